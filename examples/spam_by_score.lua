-- Move mail whose X-Spam-Score is at or above a threshold to the Junk folder.
local account = require("account")
local rules = require("rules")

local threshold = tonumber(arg[1]) or 5.0

local acct = account.connect{
  host = os.getenv("IMAP_HOST") or "imap.example.org",
  port = tonumber(os.getenv("IMAP_PORT")),
  user = os.getenv("IMAP_USER") or "me",
  password = account.secret("env:IMAP_PASSWORD"),
}
rules.apply(acct:mailbox("INBOX"), {
  {name = "spam score >= " .. threshold,
   match = {header = {["X-Spam-Score"] = function(v) return (tonumber(v) or 0) >= threshold end}},
   move = {special = "\\Junk"}},
})
acct:close()
