-- Each coroutine resumes a new one inside itself.
-- expect: error~coroutine|stack|limit
local function f() assert(coroutine.resume(coroutine.create(f))) end
f()
