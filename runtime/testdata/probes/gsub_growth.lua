-- gsub multiplying its input.
-- expect: limit.memory
local s = ("x"):rep(1000)
while true do s = s:gsub("x", "xx") end
