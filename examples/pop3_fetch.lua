-- fetchmail's job: copy new POP3 mail into an IMAP folder, remembering which
-- messages were fetched by their UIDL, so each arrives once, even across a
-- crash: a UIDL is noted as "pending" before its APPEND and as done once the
-- APPEND is confirmed; a pending one found on the next run is looked for in
-- the folder (by the X-POP3-UIDL header each copy carries) before it is
-- fetched again. The messages come pipelined (account.pop3). They stay on the
-- POP3 server unless DELETE_AFTER_FETCH is set: then each is marked deleted
-- once its APPEND is confirmed, and the marks take effect only at pop:close(),
-- so a run killed half-way deletes nothing.
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
local pop = account.pop3{host = pop_host, port = pop_port, user = pop_user,
  password = account.secret("env:POP3_PASSWORD")}

-- which messages to fetch: those never fetched, and pending ones whose copy
-- is not in the folder (a crash between an APPEND and its "done")
local delete = os.getenv("DELETE_AFTER_FETCH") ~= nil
local todo = {}
for _, m in ipairs(pop:uidl()) do
  local mark = seen:get(m.uid)
  if mark == "pending" and #dest:search{header = {["X-POP3-UIDL"] = m.uid}} > 0 then
    seen:set(m.uid, os.time())
    seen:save()
    mark = seen:get(m.uid)
    if delete then pop:delete(m.num) end   -- its copy is confirmed now
  end
  if mark == nil or mark == "pending" then todo[#todo + 1] = m.num end
end

local fetched = 0
for msg in pop:messages{nums = todo, delete = delete} do
  seen:set(msg.uid, "pending")      -- saved before the APPEND: a crash re-fetches nothing twice
  seen:save()
  dest:append("X-POP3-UIDL: " .. msg.uid .. "\r\n" .. msg.raw)
  seen:set(msg.uid, os.time())      -- the APPEND is confirmed
  seen:save()
  fetched = fetched + 1
end
pop:close()
print(string.format("%d new message(s) fetched into %s", fetched, dest:name()))
acct:close()
