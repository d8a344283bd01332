-- Empty the Trash of what has been there more than 30 days.
local account = require("account")

local acct = account.connect{
  host = os.getenv("IMAP_HOST") or "imap.example.org",
  port = tonumber(os.getenv("IMAP_PORT")),
  user = os.getenv("IMAP_USER") or "me",
  password = account.secret("env:IMAP_PASSWORD"),
}
local trash = acct:mailbox{special = "\\Trash"}
local old = trash:search{older_than = "30d"}
old:delete()   -- STORE \Deleted + UID EXPUNGE of exactly these (UIDPLUS)
print(string.format("%d message(s) removed from %s", #old, trash:name()))
for _, r in ipairs(acct:report()) do
  if r.note ~= "" then print("note: " .. r.note) end
end
acct:close()
