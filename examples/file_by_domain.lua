-- File mail from chosen domains into By-domain/<domain> (dots become dashes:
-- many servers, Dovecot's Maildir++ among them, refuse "." in a name).
local account = require("account")

local domains = {"corp.example", "uni.example.edu"}   -- edit: the senders' domains to file

local acct = account.connect{
  host = os.getenv("IMAP_HOST") or "imap.example.org",
  port = tonumber(os.getenv("IMAP_PORT")),
  user = os.getenv("IMAP_USER") or "me",
  password = account.secret("env:IMAP_PASSWORD"),
}
local inbox = acct:mailbox("INBOX")
for _, domain in ipairs(domains) do
  local mail = inbox:search{from = "@" .. domain}
  if #mail > 0 then
    mail:move("By-domain/" .. domain:gsub("%.", "-"), {create = true})
    print(string.format("%-20s %d message(s)", domain, #mail))
  end
end
acct:close()
