-- table.concat of a huge list.
-- expect: limit.memory
local t = {}
local s = ("y"):rep(1e6)
for i = 1, 1e5 do t[i] = s end
local big = table.concat(t)
