-- List messages carrying attachments larger than a size (default 50 KB).
local account = require("account")

local min_size = tonumber(arg[1]) or 50000

local acct = account.connect{
  host = os.getenv("IMAP_HOST") or "imap.example.org",
  port = tonumber(os.getenv("IMAP_PORT")),
  user = os.getenv("IMAP_USER") or "me",
  password = account.secret("env:IMAP_PASSWORD"),
}
local inbox = acct:mailbox("INBOX")

local function attachments(node, out)
  if node.parts then
    for _, p in ipairs(node.parts) do attachments(p, out) end
  elseif node.disposition and node.disposition.type == "attachment" then
    out[#out + 1] = node
  end
  return out
end

-- the server narrows to big messages; BODYSTRUCTURE tells which part is big
for msg in inbox:messages(inbox:search{larger = min_size}, {"envelope", "size", "bodystructure"}) do
  for _, part in ipairs(attachments(msg.bodystructure, {})) do
    if part.size >= min_size then
      local name = part.disposition.params and part.disposition.params.filename or "(no name)"
      print(string.format("%6d  %-30s %8d bytes  %s", msg.uid, name, part.size, msg.subject))
    end
  end
end
acct:close()
