---@meta json
-- LuaLS stubs for require("json").

---@class json
local json = {}
---@param v any
---@param indent? string
---@return string
function json.encode(v, indent) end
---@param s string
---@return any value, string? err
function json.decode(s) end

return json
