---@meta time
-- LuaLS stubs for require("time").

---@class time
local time = {}
---@param s string "90d", "12h", "2w"
---@return number seconds
function time.age(s) end
---@param s string
---@return integer epoch
function time.ago(s) end
---@param epoch integer
---@return string "5-Mar-2024"
function time.imap_date(epoch) end
---@param epoch integer
---@return string
function time.internaldate(epoch) end
---@return integer
function time.now() end
---A wait that Ctrl-C and --timeout end early.
---@param seconds number
function time.sleep(seconds) end

return time
