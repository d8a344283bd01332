-- Twenty million results from one call.
-- limits: memory=64M
-- expect: limit.memory|error~stack|too many|too long
local s = ("x"):rep(20e6)
local t = {s:byte(1, -1)}
