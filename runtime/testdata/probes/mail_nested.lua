-- A message of nested multiparts: each level copies the body again.
-- limits: memory=64M
-- expect: limit.memory
local mail = require("mail")
local body = string.rep("QUJDQUJD\r\n", 2^20)
local msg = "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n" .. body
for i = 1, 19 do
  msg = "Content-Type: multipart/mixed; boundary=b" .. i .. "\r\n\r\n--b" .. i .. "\r\n" .. msg .. "\r\n--b" .. i .. "--\r\n"
end
while true do mail.parse(msg):parts() end
