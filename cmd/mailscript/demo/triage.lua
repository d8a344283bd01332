-- The demo's triage script: sieve-like rules over a freshly seeded INBOX.
-- mailscript demo runs it against an in-process IMAP server; copy it and
-- point account.connect at your own server to use it for real.
local account = require("account")
local rules = require("rules")
local pop3 = require("pop3")

local host, imap_port, pop3_port = arg[1], tonumber(arg[2]), tonumber(arg[3])
local acct = account.connect{host = host, port = imap_port, user = "demo", password = "demo", tls = "none"}
local inbox = acct:mailbox("INBOX")
print(string.format("INBOX before: %d messages, %d unread\n", #inbox:all(), #inbox:search{unseen = true}))

rules.apply(inbox, {
  {name = "mailing lists", match = {header = {["List-Id"] = rules.regex(".")}},
   move = function(msg) return "Lists/" .. msg:header("List-Id"):match("^([%w%-_.]+)") end},
  {name = "likely spam", match = {header = {["X-Spam-Score"] = function(v) return tonumber(v) >= 8 end}},
   move = {special = "\\Junk"}},
  {name = "newsletters", match = {header = {["List-Unsubscribe"] = rules.regex(".")}}, move = "Newsletters"},
  {name = "colleagues", match = {from = "*@corp.example"}, flag = "\\Flagged"},
  {name = "big mail", match = {larger = 100000}, flag = "$Big"},
  {name = "read, older than 90 days", match = {older_than = "90d", seen = true}, move = "Archive"},
}, {incremental = false})

print("\nfolders after:")
for _, name in ipairs(acct:mailboxes()) do
  local st = acct:mailbox(name):status()
  print(string.format("  %-32s %4d messages, %3d unread", name, st.messages, st.unseen))
end
acct:close()

-- and the POP3 side: what a fetchmail-style script sees
local P = pop3.POP3(host, pop3_port)
P:user("demo"); P:pass_("demo")
local count, size = P:stat()
print(string.format("\nPOP3 mailbox: %d messages, %d bytes; the first three:", count, size))
for i = 1, math.min(3, count) do
  local _, lines = P:top(i, 0)
  for _, l in ipairs(lines) do
    if l:match("^Subject:") then print("  " .. require("mail").decode_header(l)) end
  end
end
P:quit()
