-- Unread counts across all folders, with the low-level imap module.
-- Usage: IMAP_PASSWORD=... mailscript run examples/unread_counts.lua imap.example.org[:993] me
local imap = require("imap")

local server, user = arg[1], arg[2]
if not server or not user then
  error("usage: mailscript run unread_counts.lua HOST[:PORT] USER (password in IMAP_PASSWORD)")
end
local host, port = server:match("^(.-):(%d+)$")

local M = imap.IMAP4_SSL(host or server, tonumber(port))
M:login(user, os.getenv("IMAP_PASSWORD") or "")
local _, _, boxes = M:list()
table.sort(boxes, function(a, b) return a.name < b.name end)
for _, box in ipairs(boxes) do
  local noselect = false
  for _, f in ipairs(box.flags) do noselect = noselect or f:lower() == "\\noselect" end
  if not noselect then
    local _, _, st = M:status(box.name, "(MESSAGES UNSEEN)")
    if st and st.unseen and st.unseen > 0 then
      print(string.format("%6d unread of %6d  %s", st.unseen, st.messages, box.name))
    end
  end
end
M:logout()
