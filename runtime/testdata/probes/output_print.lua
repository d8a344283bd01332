-- Output stops at the limit.
-- limits: output=4K
-- expect: limit.output
for i = 1, 1e6 do print(("x"):rep(100)) end
