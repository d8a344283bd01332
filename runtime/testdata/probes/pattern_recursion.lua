-- A pattern of ten million optional items: the matcher must refuse it (or the run's memory
-- limit end it), not overflow the Go stack.
-- expect: limit.memory|error~pattern
string.find(("a"):rep(1e7), ("a?"):rep(1e7))
