-- No processes.
-- expect: error~sandbox|not available|allowed
local imap = require("imap")
imap.IMAP4_stream("cat /etc/passwd")
