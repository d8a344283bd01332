-- W3: every message, written to a local Maildir.
local account = require("account")
local dir = os.getenv("B_OUT")
local acct = account.connect{host = os.getenv("B_HOST"), port = tonumber(os.getenv("B_PORT")),
  user = os.getenv("B_USER"), password = os.getenv("B_PASSWORD"), tls = "none"}
local inbox = acct:mailbox("INBOX")
local n = 0
for msg in inbox:messages(inbox:all(), {"body", "flags"}) do
  local f = assert(io.open(dir .. "/cur/" .. msg.uid .. ".mailscript:2,", "wb"))
  f:write(msg.raw)
  f:close()
  n = n + 1
end
print(n)
acct:close()
