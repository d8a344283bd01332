-- s = s .. s until memory ends.
-- expect: limit.memory
-- vm-growth
local s = "x"
while true do s = s .. s end
