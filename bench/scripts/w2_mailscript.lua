-- W2: UID, FLAGS, ENVELOPE and RFC822.SIZE of every message, through the library's iterator.
local account = require("account")
local acct = account.connect{host = os.getenv("B_HOST"), port = tonumber(os.getenv("B_PORT")),
  user = os.getenv("B_USER"), password = os.getenv("B_PASSWORD"), tls = "none"}
local inbox = acct:mailbox("INBOX")
local n, bytes = 0, 0
for msg in inbox:messages(inbox:all(), {"envelope", "flags", "size"}) do
  n = n + 1
  bytes = bytes + msg.size
end
print(n, bytes)
acct:close()
