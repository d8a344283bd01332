-- re.replace with an empty pattern puts repl between every two bytes:
-- a megabyte each way would be a terabyte.
-- expect: limit.memory
local re = require("re")
local s = string.rep("x", 2^20)
re.replace("", s, s)
