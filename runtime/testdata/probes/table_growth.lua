-- A table grown without end (a long time limit: under -race on a busy
-- machine the 128 MiB take more than the default 10 s).
-- limits: time=40s
-- expect: limit.memory
local t = {}
while true do t[#t + 1] = ("x"):rep(1000) .. #t end
