-- A table shared at every level: encoding it naively is 2^40 work.
-- expect: error~json|limit|depth|nest
local json = require("json")
local t = {}
for i = 1, 40 do t = {t, t} end
json.encode(t)
