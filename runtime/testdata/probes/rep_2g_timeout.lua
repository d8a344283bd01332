-- 2 GiB in one call, with a 2 s time limit: it must not run for 14 s.
-- limits: time=2s memory=-1
-- expect: limit.time|limit.memory
local s = string.rep("x", 2^31)
