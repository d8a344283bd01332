-- The host's environment is not the script's.
-- expect: ok
assert(os.getenv("HOME") == nil and os.getenv("PATH") == nil, "getenv sees the host environment")
