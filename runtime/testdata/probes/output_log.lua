-- log.* counts against the output limit too.
-- limits: output=4K
-- expect: limit.output
local log = require("log")
for i = 1, 1e6 do log.info(("x"):rep(100)) end
