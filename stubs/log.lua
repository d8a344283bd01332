---@meta log
-- LuaLS stubs for require("log"): lines on stderr with the time and level.

---@class log
local log = {}
---Only with --debug.
---@param ... any
function log.debug(...) end
---@param ... any
function log.info(...) end
---@param ... any
function log.warn(...) end
---@param ... any
function log.error(...) end

return log
