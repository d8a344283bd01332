-- fetchmail's job: copy new POP3 mail into an IMAP folder, remembering which
-- messages were fetched by their UIDL, so each arrives once, even across a
-- crash: a UIDL is noted as "pending" before its APPEND and as done once the
-- APPEND is confirmed; a pending one found on the next run is looked for in
-- the folder (by the X-POP3-UIDL header each copy carries) before it is
-- fetched again. Messages stay on the POP3 server unless DELETE_AFTER_FETCH
-- is set (then each is deleted only after its APPEND is confirmed).
local pop3 = require("pop3")
local account = require("account")
local state = require("state")

local pop_host = os.getenv("POP3_HOST") or "pop.example.org"
local pop_port = tonumber(os.getenv("POP3_PORT")) or 995
local pop_user = os.getenv("POP3_USER") or "me"

local acct = account.connect{
  host = os.getenv("IMAP_HOST") or "imap.example.org",
  port = tonumber(os.getenv("IMAP_PORT")),
  user = os.getenv("IMAP_USER") or "me",
  password = account.secret("env:IMAP_PASSWORD"),
}
local dest = acct:mailbox(os.getenv("FETCH_INTO") or "INBOX")

local seen = state.open("pop3-fetch-" .. pop_user .. "@" .. pop_host .. ":" .. pop_port)
if next(seen.data) == nil then   -- state kept before the key held the port: taken over once
  for uidl, mark in pairs(state.open("pop3-fetch-" .. pop_user .. "@" .. pop_host).data) do seen:set(uidl, mark) end
end
local P = pop3.POP3_SSL(pop_host, pop_port)
P:user(pop_user)
P:pass_(account.secret("env:POP3_PASSWORD"))

local _, _, _, uids = P:uidl()
local fetched = 0
for _, m in ipairs(uids) do
  local mark = seen:get(m.uid)
  -- a crash between an APPEND and its "done": is the copy there already?
  if mark == "pending" and #dest:search{header = {["X-POP3-UIDL"] = m.uid}} > 0 then
    seen:set(m.uid, os.time())
    seen:save()
    mark = seen:get(m.uid)
  end
  if mark == nil or mark == "pending" then
    local _, lines = P:retr(m.num)
    seen:set(m.uid, "pending")      -- saved before the APPEND: a crash re-fetches nothing twice
    seen:save()
    dest:append("X-POP3-UIDL: " .. m.uid .. "\r\n" .. table.concat(lines, "\r\n") .. "\r\n")
    seen:set(m.uid, os.time())      -- the APPEND is confirmed
    seen:save()
    if os.getenv("DELETE_AFTER_FETCH") then P:dele(m.num) end
    fetched = fetched + 1
  end
end
P:quit()
print(string.format("%d new message(s) fetched into %s", fetched, dest:name()))
acct:close()
