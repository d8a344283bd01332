-- Archive read mail older than 90 days into Archive/<year it arrived>.
local account = require("account")

local acct = account.connect{
  host = os.getenv("IMAP_HOST") or "imap.example.org",
  port = tonumber(os.getenv("IMAP_PORT")),
  user = os.getenv("IMAP_USER") or "me",
  password = account.secret("env:IMAP_PASSWORD"),
}
local inbox = acct:mailbox("INBOX")
local old = inbox:search{older_than = "90d", seen = true, flagged = false}

-- group by year, then move each group in one batch
local by_year = {}
for msg in inbox:messages(old, {"date"}) do
  local year = os.date("%Y", msg.date)
  by_year[year] = by_year[year] or {}
  table.insert(by_year[year], msg.uid)
end
for year, uids in pairs(by_year) do
  inbox:set(uids):move("Archive/" .. year, {create = true})
  print(string.format("%d message(s) to Archive/%s", #uids, year))
end
acct:close()
