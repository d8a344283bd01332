-- Route mailing-list mail into Lists/<list> by its List-Id header.
-- Settings come from the environment: IMAP_HOST, IMAP_PORT (default 993), IMAP_USER, IMAP_PASSWORD.
local account = require("account")
local rules = require("rules")

local acct = account.connect{
  host = os.getenv("IMAP_HOST") or "imap.example.org",
  port = tonumber(os.getenv("IMAP_PORT")),
  user = os.getenv("IMAP_USER") or "me",
  password = account.secret("env:IMAP_PASSWORD"),
}

rules.apply(acct:mailbox("INBOX"), {
  {name = "mailing lists", match = {header = {["List-Id"] = rules.regex("<[^>]+>")}},
   -- "golang-nuts <golang-nuts.googlegroups.com>" files into Lists/golang-nuts
   move = function(msg) return "Lists/" .. msg:header("List-Id"):match("<([^.>]+)") end},
})
acct:close()
