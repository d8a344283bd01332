-- gopher-lua's _printregs dumps registers to the host's stdout, past every limit.
-- expect: ok
assert(_printregs == nil, "_printregs is available")
