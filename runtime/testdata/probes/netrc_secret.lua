-- No .netrc, command or prompt secrets in the sandbox.
-- expect: ok
local account = require("account")
for _, spec in ipairs{"netrc", "cmd:cat /etc/passwd", "prompt"} do
  assert(not pcall(account.secret, spec), spec .. " secret was allowed")
end
