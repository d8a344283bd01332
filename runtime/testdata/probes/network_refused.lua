-- No network unless the host allows it; the error says how.
-- expect: error~allow
local imap = require("imap")
imap.IMAP4("127.0.0.1", 9)
