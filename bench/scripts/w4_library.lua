-- W4: retrieve every POP3 message through the library's account.pop3,
-- pipelined when the server offers PIPELINING.
local account = require("account")
local pop = account.pop3{host = os.getenv("B_HOST"), port = tonumber(os.getenv("B_PORT")),
  user = os.getenv("B_USER"), password = os.getenv("B_PASSWORD"), tls = "none"}
local count, total = 0, 0
for msg in pop:messages() do
  count = count + 1
  total = total + msg.size
end
print(count, total)
pop:close()
