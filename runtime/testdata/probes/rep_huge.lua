-- 16 GiB in one call.
-- expect: limit.memory
local s = string.rep("x", 2^34)
