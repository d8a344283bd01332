-- A pattern of ten million optional items: the matcher must refuse it, not overflow the Go stack.
-- expect: error~pattern
string.find(("a"):rep(1e7), ("a?"):rep(1e7))
