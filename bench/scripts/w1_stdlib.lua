-- W1 triage with the library: search, iterate (batched, prefetched), then
-- batched, pipelined actions.
local account = require("account")
local acct = account.connect{host = os.getenv("B_HOST"), port = tonumber(os.getenv("B_PORT")),
  user = os.getenv("B_USER"), password = os.getenv("B_PASSWORD"), tls = "none"}
local inbox = acct:mailbox("INBOX")
local lists, news, receipts, vip = {}, {}, {}, {}
for msg in inbox:messages(inbox:search{unseen = true}, {"header:From,Subject,List-Id,Date"}) do
  local from, subject, list = msg:header("From") or "", msg:header("Subject") or "", msg:header("List-Id") or ""
  if from:find("corp.example", 1, true) then vip[#vip + 1] = msg.uid end
  if list:find("golang") or list:find("dovecot") then lists[#lists + 1] = msg.uid
  elseif from:find("shop.example", 1, true) then news[#news + 1] = msg.uid
  elseif subject:find("invoice") or subject:find("order") then receipts[#receipts + 1] = msg.uid end
end
inbox:set(vip):flag("\\Flagged")
inbox:set(lists):move("Lists")
inbox:set(news):move("Newsletters")
inbox:set(receipts):move("Receipts")
acct:close()
