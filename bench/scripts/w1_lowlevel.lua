-- W1 triage with the imaplib-style module: the same calls an imaplib user makes.
local imap = require("imap")
local host, port, user, pw = os.getenv("B_HOST"), tonumber(os.getenv("B_PORT")), os.getenv("B_USER"), os.getenv("B_PASSWORD")
local M = imap.IMAP4(host, port)
M:login(user, pw)
M:select("INBOX")
local _, _, uids = M:search(nil, "UNSEEN", {uid = true})
local dest = {Lists = {}, Newsletters = {}, Receipts = {}}
local vip = {}
for i = 1, #uids, 500 do
  local chunk = table.concat(uids, ",", i, math.min(i + 499, #uids))
  local _, _, msgs = M:fetch(chunk, "(UID BODY.PEEK[HEADER.FIELDS (FROM SUBJECT LIST-ID DATE)])", {uid = true})
  for _, m in ipairs(msgs) do
    local h = m.body["HEADER.FIELDS (FROM SUBJECT LIST-ID DATE)"]
    local from = h:match("\nFrom:([^\r\n]*)") or h:match("^From:([^\r\n]*)") or ""
    local subject = h:match("Subject:([^\r\n]*)") or ""
    local list = h:match("List%-Id:([^\r\n]*)") or ""
    if from:find("corp.example", 1, true) then vip[#vip + 1] = m.uid end
    if list:find("golang") or list:find("dovecot") then table.insert(dest.Lists, m.uid)
    elseif from:find("shop.example", 1, true) then table.insert(dest.Newsletters, m.uid)
    elseif subject:find("invoice") or subject:find("order") then table.insert(dest.Receipts, m.uid) end
  end
end
if #vip > 0 then M:store(table.concat(vip, ","), "+FLAGS.SILENT", "(\\Flagged)", {uid = true}) end
for folder, list in pairs(dest) do
  for i = 1, #list, 500 do
    M:move(table.concat(list, ",", i, math.min(i + 499, #list)), folder, {uid = true})
  end
end
M:logout()
