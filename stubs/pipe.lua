---@meta pipe
-- LuaLS stubs for require("pipe"): imapfilter's pipe_to and pipe_from (not in the sandbox).

---@class pipe
local pipe = {}
---Runs command (sh -c) with data on its stdin.
---@param command string
---@param data string
---@return integer status, string output
function pipe.to(command, data) end
---@param command string
---@return string output trailing newlines dropped
function pipe.from(command) end

return pipe
