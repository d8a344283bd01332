-- Tables made in Go are real tables.
-- expect: ok
local mail = require("mail")
local imap = require("imap")
for _, v in ipairs{imap.ParseFlags("(\\Seen \\Answered)"), imap.Time2Internaldate(0)} do
  if type(v) == "table" then print(getmetatable(v)) end
end
