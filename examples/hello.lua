-- hello.lua: what the modules give, with no mail account needed.
local imap = require("imap")
local pop3 = require("pop3")

print("mailscript: imaplib and poplib for Lua")
print("IMAP ports", imap.IMAP4_PORT, imap.IMAP4_SSL_PORT, "POP3 ports", pop3.POP3_PORT, pop3.POP3_SSL_PORT)
print("flags of a FETCH reply:", table.concat(imap.ParseFlags('1 (FLAGS (\\Seen \\Flagged))'), " "))
print("an INTERNALDATE:", imap.Time2Internaldate(os.time{year = 2024, month = 3, day = 1, hour = 12}))

-- errors are objects with imaplib's classes
local ok, err = pcall(imap.IMAP4, "127.0.0.1", 1, 2)
print("connecting to a closed port:", err.kind, err.cause, imap.error:is(err))
print("try: mailscript repl, or see docs/lua-api.md")
