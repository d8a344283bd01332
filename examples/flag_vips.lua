-- Flag unread mail from the people that matter.
local account = require("account")
local rules = require("rules")

local vips = {"boss@corp.example", "*@uni.example.edu"}   -- edit: addresses or globs

local acct = account.connect{
  host = os.getenv("IMAP_HOST") or "imap.example.org",
  port = tonumber(os.getenv("IMAP_PORT")),
  user = os.getenv("IMAP_USER") or "me",
  password = account.secret("env:IMAP_PASSWORD"),
}
rules.apply(acct:mailbox("INBOX"), {
  {name = "VIPs", match = {from = vips, seen = false}, flag = "\\Flagged"},
}, {incremental = false})
acct:close()
