-- Back up a mailbox to a local Maildir (new messages only on later runs).
-- Usage: mailscript run backup_maildir.lua [MAILBOX] [DIRECTORY]
local account = require("account")
local state = require("state")

local mailbox = arg[1] or "INBOX"
local dir = arg[2] or "backup"

local acct = account.connect{
  host = os.getenv("IMAP_HOST") or "imap.example.org",
  port = tonumber(os.getenv("IMAP_PORT")),
  user = os.getenv("IMAP_USER") or "me",
  password = account.secret("env:IMAP_PASSWORD"),
}
local mbox = acct:mailbox(mailbox)
local st = mbox:status()
local doc = state.open("backup-" .. acct:id() .. "-" .. mailbox)
local from = 1
if doc:get("uidvalidity") == st.uidvalidity then from = (doc:get("last_uid") or 0) + 1 end

for _, sub in ipairs{"", "/cur", "/new", "/tmp"} do os.execute("mkdir -p '" .. dir .. sub .. "'") end

local count, last = 0, from - 1
for msg in mbox:messages(mbox:search{uid = from .. ":*"}, {"body", "flags", "date"}) do
  if msg.uid >= from then
    local flags = ""
    for _, f in ipairs(msg.flags) do
      local letter = ({["\\draft"] = "D", ["\\flagged"] = "F", ["\\answered"] = "R", ["\\seen"] = "S"})[f:lower()]
      if letter then flags = flags .. letter end
    end
    local letters = {}
    for c in flags:gmatch(".") do letters[#letters + 1] = c end
    table.sort(letters)
    local name = string.format("%d.U%dV%d.mailscript:2,%s", msg.date, msg.uid, st.uidvalidity, table.concat(letters))
    local tmp = dir .. "/tmp/" .. name
    local f = assert(io.open(tmp, "wb"))
    f:write(msg.raw)
    f:close()
    assert(os.rename(tmp, dir .. "/cur/" .. name))   -- Maildir's atomic delivery
    count, last = count + 1, math.max(last, msg.uid)
  end
end
doc:set("uidvalidity", st.uidvalidity); doc:set("last_uid", last); doc:save()
print(string.format("%d message(s) backed up to %s", count, dir))
acct:close()
