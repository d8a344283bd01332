-- s = s .. s until memory ends.
-- expect: limit.memory
local s = "x"
while true do s = s .. s end
