---@meta state
-- LuaLS stubs for require("state"): small JSON documents kept between runs.

---@class state
local state = {}

---@class state.Document
---@field data table
local Document = {}
---@param k any
---@return any
function Document:get(k) end
---@param k any
---@param v any
function Document:set(k, v) end
---@param k any
function Document:delete(k) end
---Atomic: a temporary file renamed over the old one.
function Document:save() end

---@param name string
---@return state.Document
function state.open(name) end
---@param name string
---@return (fun())? unlock, string? err
function state.lock(name) end

return state
