---@meta re
-- LuaLS stubs for require("re"): Go's regexp (RE2, linear time).

---@class re
local re = {}
---@param p string
---@param s string
---@return boolean
function re.match(p, s) end
---@param p string
---@param s string
---@return string? match, string ... groups
function re.find(p, s) end
---@param p string
---@param s string
---@param n? integer
---@return string[]
function re.find_all(p, s, n) end
---@param p string
---@param s string
---@param repl string $1 expands
---@return string
function re.replace(p, s, repl) end
---@param p string
---@param s string
---@return string[]
function re.split(p, s) end
---@param s string
---@return string
function re.quote(s) end

return re
