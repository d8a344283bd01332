---@meta pop3
-- LuaLS stubs for require("pop3"), the mirror of Python's poplib.
-- Every method exists lowercase and UPPERCASE.

---@class pop3
---@field POP3_PORT integer 110
---@field POP3_SSL_PORT integer 995
---@field error_proto imap.ErrorClass
local pop3 = {}

---@param host string
---@param port? integer
---@param timeout? number
---@return pop3.POP3
function pop3.POP3(host, port, timeout) end

---@param host string
---@param port? integer
---@param opts? {timeout: number?, ssl_context: imap.SSLContext?}
---@return pop3.POP3
function pop3.POP3_SSL(host, port, opts) end

---@class pop3.POP3
local POP3 = {}
---@param n integer
function POP3:set_debuglevel(n) end
---@return string
function POP3:getwelcome() end
---@return table<string, string[]>
function POP3:capa() end
---@param user string
---@return string
function POP3:user(user) end
---@param password string|account.Secret
---@return string
function POP3:pass_(password) end
---@param user string
---@param secret string|account.Secret
---@return string
function POP3:apop(user, secret) end
---@param user string
---@return string
function POP3:rpop(user) end
---@return integer count, integer size
function POP3:stat() end
---@param n? integer
---@return string resp, string[]? lines, integer? octets, table[]? parsed
function POP3:list(n) end
---@param n? integer
---@return string resp, string[]? lines, integer? octets, {num: integer, uid: string}[]? parsed
function POP3:uidl(n) end
---@param n integer
---@return string resp, string[] lines, integer octets
function POP3:retr(n) end
---@param n integer
---@param lines integer
---@return string resp, string[] lines, integer octets
function POP3:top(n, lines) end
---@param n integer
---@return string
function POP3:dele(n) end
---@return string
function POP3:rset() end
---@return string
function POP3:noop() end
---@return string
function POP3:quit() end
function POP3:close() end
---@return string
function POP3:utf8() end
---@param ssl_context? imap.SSLContext
---@return string
function POP3:stls(ssl_context) end
---@param mechanism string
---@param authobject function|{user: string, password: any?, token: any?}
---@return string
function POP3:auth(mechanism, authobject) end
---AUTH with an access token of the account `mailscript login NAME` stored;
---the mechanism from CAPA's SASL line (OAUTHBEARER preferred).
---@param name string
---@param opts? {user: string?, mechanism: "XOAUTH2"|"OAUTHBEARER"|nil}
---@return string
function POP3:auth_oauth(name, opts) end

return pop3
