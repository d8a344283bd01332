-- Watch INBOX with IDLE and print new mail from chosen senders as it arrives.
-- Usage: mailscript run idle_watch.lua [SECONDS]   (no argument: watch until stopped)
local imap = require("imap")

local senders = {"boss@corp.example", "alerts@"}   -- edit: substrings of From addresses
local seconds = tonumber(arg[1])

local M = imap.IMAP4_SSL(os.getenv("IMAP_HOST") or "imap.example.org", tonumber(os.getenv("IMAP_PORT")))
M:login(os.getenv("IMAP_USER") or "me", os.getenv("IMAP_PASSWORD"))
local _, _, st = M:select("INBOX", true)
local next_uid = st.uidnext
if not next_uid then   -- SELECT may leave UIDNEXT out (Courier does): ask STATUS
  local _, _, s = M:status("INBOX", "(UIDNEXT)")
  next_uid = s and s.uidnext
end
if not next_uid then   -- or take one past the highest UID
  next_uid = 1
  if (st.exists or 0) > 0 then
    local _, _, last = M:fetch(tostring(st.exists), "(UID)")
    next_uid = last[1].uid + 1
  end
end
local deadline = seconds and os.time() + seconds

local function wanted(from)
  for _, s in ipairs(senders) do
    if from:lower():find(s:lower(), 1, true) then return true end
  end
  return false
end

print("watching INBOX" .. (seconds and (" for " .. seconds .. " s") or ""))
io.stdout:flush()
while not deadline or os.time() < deadline do
  local left = deadline and math.max(1, deadline - os.time()) or 29 * 60   -- re-IDLE before 29 minutes
  local arrived = false
  for typ in M:idle(left):iter() do
    if typ == "EXISTS" then arrived = true; break end
  end
  if arrived then
    local _, _, msgs = M:fetch(next_uid .. ":*", "(UID ENVELOPE)", {uid = true})
    for _, m in ipairs(msgs) do
      if m.uid and m.uid >= next_uid then   -- not a flag change seen while idling
        next_uid = m.uid + 1
        local from = m.envelope.from[1] and m.envelope.from[1].address or ""
        if wanted(from) then
          print(string.format("new from %s: %s", from, m.envelope.subject))
          io.stdout:flush()
        end
      end
    end
  end
end
M:logout()
