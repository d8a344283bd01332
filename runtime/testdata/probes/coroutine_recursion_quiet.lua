-- The same, ignoring each resume's failure: the run must still end within its limits.
-- expect: any
local function f() coroutine.resume(coroutine.create(f)) end
f()
