-- TLS trust never comes from a path in the sandbox.
-- expect: error~ca_file|file|path|sandbox
local imap = require("imap")
imap.IMAP4_SSL("127.0.0.1", 1, {ssl_context = {ca_file = "/dev/zero"}})
