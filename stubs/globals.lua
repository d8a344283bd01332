---@meta
-- LuaLS stubs for the globals mailscript adds to Lua 5.1's.

---The script's arguments; arg[0] is the script.
---@type string[]
arg = {}

---A wait that Ctrl-C and --timeout end early (imapfilter's sleep).
---@param seconds number
function sleep(seconds) end
