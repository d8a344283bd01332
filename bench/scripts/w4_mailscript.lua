-- W4: retrieve every POP3 message.
local pop3 = require("pop3")
local P = pop3.POP3(os.getenv("B_HOST"), tonumber(os.getenv("B_PORT")))
P:user(os.getenv("B_USER")); P:pass_(os.getenv("B_PASSWORD"))
local count = P:stat()
local total = 0
for i = 1, count do
  local _, _, octets = P:retr(i)
  total = total + octets
end
print(count, total)
P:quit()
