---@meta imap
-- LuaLS stubs for require("imap"), the mirror of Python's imaplib.
-- Every method exists lowercase and UPPERCASE; each returns typ, data, parsed.

---@class imap
---@field IMAP4_PORT integer 143
---@field IMAP4_SSL_PORT integer 993
---@field error imap.ErrorClass
---@field abort imap.ErrorClass
---@field readonly imap.ErrorClass
local imap = {}

---@class imap.ErrorClass
---@field name string
local ErrorClass = {}
---@param obj any
---@return boolean
function ErrorClass:is(obj) end

---@class imap.Error
---@field kind "error"|"abort"|"readonly"
---@field message string
---@field command string?
---@field code string?
---@field cause "timeout"|"eof"|"reset"|"tls"|"refused"|"dns"|nil

---@class imap.SSLContext
---@field verify boolean?
---@field ca_file string?
---@field cert_file string?
---@field key_file string?
---@field ca_pem string?
---@field cert_pem string?
---@field key_pem string?
---@field server_name string?
---@field min_version "1.2"|"1.3"|nil

---@class imap.UIDOpt
---@field uid boolean?

---@alias imap.Typ "OK"|"NO"|"BAD"|"BYE"|string

---@class imap.IMAP4
---@field capabilities string[]
---@field state "NONAUTH"|"AUTH"|"SELECTED"|"LOGOUT"|"IDLING"
---@field welcome string
---@field utf8_enabled boolean
---@field PROTOCOL_VERSION string
---@field is_readonly boolean
---@field host string
---@field port integer
---@field debug integer
---@field error imap.ErrorClass
---@field abort imap.ErrorClass
---@field readonly imap.ErrorClass
local IMAP4 = {}

---Plain TCP (port 143), or one table {host=, port=, timeout=, ssl_context=}.
---@param host? string|table
---@param port? integer
---@param timeout? number seconds
---@return imap.IMAP4
function imap.IMAP4(host, port, timeout) end

---Implicit TLS (port 993).
---@param host? string|table
---@param port? integer
---@param opts? {timeout: number?, ssl_context: imap.SSLContext?}
---@return imap.IMAP4
function imap.IMAP4_SSL(host, port, opts) end

---Runs command with sh -c and speaks IMAP on its stdin/stdout.
---@param command string
---@return imap.IMAP4
function imap.IMAP4_stream(command) end

---@param s string
---@return table? time a table os.time accepts
function imap.Internaldate2tuple(s) end
---@param n integer
---@return string
function imap.Int2AP(n) end
---@param s string
---@return string[]
function imap.ParseFlags(s) end
---@param t number|table|string
---@return string
function imap.Time2Internaldate(t) end

---@param mailbox string
---@param flags string?
---@param date_time number|table|string|nil
---@param message string
---@return imap.Typ typ, table data, table? parsed
function IMAP4:append(mailbox, flags, date_time, message) end
---@param mechanism string
---@param authobject function|{user: string, password: any?, token: any?}
---@return imap.Typ typ, table data
function IMAP4:authenticate(mechanism, authobject) end
---AUTHENTICATE with an access token of the account `mailscript login NAME` stored
---(refreshed before it expires, and once more if the server refuses it);
---OAUTHBEARER when the server offers it, else XOAUTH2.
---@param name string
---@param opts? {user: string?, mechanism: "XOAUTH2"|"OAUTHBEARER"|nil}
---@return imap.Typ typ, table data
function IMAP4:authenticate_oauth(name, opts) end
---@return imap.Typ typ, table data, string[] capabilities
function IMAP4:capability() end
---@return imap.Typ typ, table data
function IMAP4:check() end
---@return imap.Typ typ, table data
function IMAP4:close() end
---@param set string
---@param mailbox string
---@param opts? imap.UIDOpt
---@return imap.Typ typ, table data, table? copyuid
function IMAP4:copy(set, mailbox, opts) end
---@param set string
---@param mailbox string
---@param opts? imap.UIDOpt
---@return imap.Typ typ, table data, table? copyuid
function IMAP4:move(set, mailbox, opts) end
---@param mailbox string
---@return imap.Typ typ, table data
function IMAP4:create(mailbox) end
---@param mailbox string
---@return imap.Typ typ, table data
function IMAP4:delete(mailbox) end
---@param old string
---@param new string
---@return imap.Typ typ, table data
function IMAP4:rename(old, new) end
---@param mailbox string
---@return imap.Typ typ, table data
function IMAP4:subscribe(mailbox) end
---@param mailbox string
---@return imap.Typ typ, table data
function IMAP4:unsubscribe(mailbox) end
---@param mailbox string
---@param who string
---@return imap.Typ typ, table data
function IMAP4:deleteacl(mailbox, who) end
---@param mailbox string
---@param who string
---@param what string
---@return imap.Typ typ, table data
function IMAP4:setacl(mailbox, who, what) end
---@param mailbox string
---@return imap.Typ typ, table data, table? acl
function IMAP4:getacl(mailbox) end
---@param mailbox string
---@return imap.Typ typ, table data, table? rights
function IMAP4:myrights(mailbox) end
---@param capability string
---@return imap.Typ typ, table data, string[] enabled
function IMAP4:enable(capability) end
---@param uidset? string
---@param opts? imap.UIDOpt
---@return imap.Typ typ, table data, integer[] expunged
function IMAP4:expunge(uidset, opts) end
---@param set string
---@param parts string
---@param opts? imap.UIDOpt
---@return imap.Typ typ, table data, table[] records
function IMAP4:fetch(set, parts, opts) end
---@param mailbox string
---@param entry string
---@param attr string
---@return imap.Typ typ, table data
function IMAP4:getannotation(mailbox, entry, attr) end
---@param ... any
---@return imap.Typ typ, table data
function IMAP4:setannotation(...) end
---@param root string
---@return imap.Typ typ, table data, table? quotas
function IMAP4:getquota(root) end
---@param root string
---@param limits string
---@return imap.Typ typ, table data
function IMAP4:setquota(root, limits) end
---@param mailbox string
---@return imap.Typ typ, table data, table? quotaroot
function IMAP4:getquotaroot(mailbox) end
---@param fields? table<string, string>
---@return imap.Typ typ, table data, table<string, string>? server
function IMAP4:id(fields) end
---Sends IDLE; without a callback returns an idler.
---@param duration? number seconds
---@param callback? fun(typ: string, data: any): boolean?
---@return imap.Idler
function IMAP4:idle(duration, callback) end
---@param directory? string
---@param pattern? string
---@return imap.Typ typ, table data, table[] entries
function IMAP4:list(directory, pattern) end
---@param directory? string
---@param pattern? string
---@return imap.Typ typ, table data, table[] entries
function IMAP4:lsub(directory, pattern) end
---The password is always quoted; nil raises (an unset variable).
---@param user string
---@param password string|account.Secret
---@return imap.Typ typ, table data
function IMAP4:login(user, password) end
---@param user string
---@param password string|account.Secret
---@return imap.Typ typ, table data
function IMAP4:login_cram_md5(user, password) end
---@param user string
---@param password string|account.Secret
---@param authzid? string
---@return imap.Typ typ, table data
function IMAP4:login_plain(user, password, authzid) end
---@return imap.Typ typ, table data
function IMAP4:logout() end
---@return imap.Typ typ, table data, table? namespaces
function IMAP4:namespace() end
---@return imap.Typ typ, table data
function IMAP4:noop() end
---@param host? string
---@param port? integer
---@param timeout? number
function IMAP4:open(host, port, timeout) end
---@param num string
---@param part string
---@param start integer
---@param length integer
---@return imap.Typ typ, table data, table[] records
function IMAP4:partial(num, part, start, length) end
---@param user string
---@return imap.Typ typ, table data
function IMAP4:proxyauth(user) end
---@param n integer
---@return string
function IMAP4:read(n) end
---@return string
function IMAP4:readline() end
---@param data string
function IMAP4:send(data) end
---@return imap.Typ typ, table data
function IMAP4:recent() end
---@param code string
---@return string typ, table data
function IMAP4:response(code) end
---@param charset string?
---@param ... string|imap.UIDOpt criteria
---@return imap.Typ typ, table data, integer[] hits
function IMAP4:search(charset, ...) end
---@param mailbox? string
---@param readonly? boolean
---@return imap.Typ typ, table data, table? status
function IMAP4:select(mailbox, readonly) end
function IMAP4:shutdown() end
---@return {["local"]: string, remote: string, tls: boolean}
function IMAP4:socket() end
---@param criteria string
---@param charset string
---@param ... string|imap.UIDOpt
---@return imap.Typ typ, table data, integer[] hits
function IMAP4:sort(criteria, charset, ...) end
---@param ssl_context? imap.SSLContext
---@return imap.Typ typ, table data
function IMAP4:starttls(ssl_context) end
---@param mailbox string
---@param names string
---@return imap.Typ typ, table data, table? status
function IMAP4:status(mailbox, names) end
---@param set string
---@param command string FLAGS, +FLAGS, -FLAGS (and .SILENT)
---@param flags string
---@param opts? imap.UIDOpt
---@return imap.Typ typ, table data, table[] records
function IMAP4:store(set, command, flags, opts) end
---@param algorithm string
---@param charset string
---@param ... string|imap.UIDOpt
---@return imap.Typ typ, table data, table threads
function IMAP4:thread(algorithm, charset, ...) end
---@param command string
---@param ... any
---@return imap.Typ typ, table data, any parsed
function IMAP4:uid(command, ...) end
---@return imap.Typ typ, table data
function IMAP4:unselect() end
---@param name string
---@param ... any
---@return imap.Typ typ, table data
function IMAP4:xatom(name, ...) end

---@class imap.Idler
local Idler = {}
---One untagged response per step, until the duration ends.
---@return fun(): string?, any
function Idler:iter() end
---The first response and those less than interval seconds apart.
---@param interval number
---@return table[]
function Idler:burst(interval) end
---Sends DONE.
function Idler:done() end

return imap
