-- gsub doubling its input.
-- expect: limit.memory
local s = ("x"):rep(1000)
while true do s = s:gsub(".+", "%0%0") end
