-- A withheld library says so.
-- expect: error~not available in the sandbox
io.open("/etc/passwd")
