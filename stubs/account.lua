---@meta account
-- LuaLS stubs for require("account"): an IMAP account for filter scripts.

---@class account
---@field dry_run boolean true under --dry-run
local account = {}

---@class account.Secret

---@class account.ConnectOptions
---@field host string? required, except with an oauth account whose provider knows its server
---@field port integer?
---@field user string
---@field password string|account.Secret nil raises: an unset variable is never sent as ""
---@field tls "implicit"|"starttls"|"none"|nil
---@field ssl_context imap.SSLContext?
---@field timeout number?
---@field allow_plaintext boolean?
---@field subscribe_created boolean? subscribe the folders this account creates
---@field auth "password"|"oauth2"|nil
---@field oauth string? the account name given to `mailscript login NAME` (with auth = "oauth2")

---@param opts account.ConnectOptions
---@return account.Account
function account.connect(opts) end

---@class account.POP3Options
---@field host string
---@field port integer? 995 with tls "implicit" (the default), else 110
---@field user string
---@field password string|account.Secret
---@field tls "implicit"|"starttls"|"none"|nil
---@field ssl_context imap.SSLContext?
---@field timeout number?
---@field allow_plaintext boolean?

---A POP3 session whose messages loop pipelines RETR/TOP/DELE (RFC 2449
---PIPELINING); deletions take effect only at close().
---@param opts account.POP3Options
---@return account.POP3
function account.pop3(opts) end

---"env:NAME", "cmd:COMMAND", "netrc" or "prompt".
---@param spec string
---@return account.Secret
function account.secret(spec) end

---@class account.Account
local Account = {}
---By name ("Lists/golang") or by special use ({special = "\\Junk"}).
---@param name string|{special: string}
---@return account.Mailbox
function Account:mailbox(name) end
---@return string[]
function Account:mailboxes() end
---@return {action: string, mailbox: string, dest: string, uids: string, count: integer, note: string}[]
function Account:report() end
---Sends the queued actions; raises the first failure, naming the action.
function Account:flush() end
---user@host:port
---@return string
function Account:id() end
function Account:close() end
---One IDLE connection per mailbox; fn gets the new messages; returning true stops.
---@param mailboxes string[]
---@param fn fun(mailbox: account.Mailbox, messages: account.Message[]): boolean?
---@param opts? {duration: number?}
function Account:watch(mailboxes, fn, opts) end
---@param name string
---@param opts? {subscribe: boolean?}
function Account:create(name, opts) end
---@param name string
function Account:delete(name) end
---@param old string
---@param new string
function Account:rename(old, new) end
---@param name string
function Account:subscribe(name) end
---@param name string
function Account:unsubscribe(name) end
---Names under folder (every level; pattern "%" for one).
---@param folder? string
---@param pattern? string
---@return string[]
function Account:list_all(folder, pattern) end
---@param folder? string
---@param pattern? string
---@return string[]
function Account:list_subscribed(folder, pattern) end

---@class account.Criteria
---@field seen boolean?
---@field unseen boolean?
---@field flagged boolean?
---@field answered boolean?
---@field deleted boolean?
---@field draft boolean?
---@field recent boolean?
---@field new boolean?
---@field keyword string?
---@field unkeyword string?
---@field from string?
---@field to string?
---@field cc string?
---@field bcc string?
---@field subject string?
---@field body string?
---@field text string?
---@field header table<string, string>?
---@field larger integer?
---@field smaller integer?
---@field older_than string?
---@field newer_than string?
---@field before string|integer|nil
---@field since string|integer|nil
---@field on string|integer|nil
---@field sentbefore string|integer|nil
---@field sentsince string|integer|nil
---@field senton string|integer|nil
---@field uid string?
---@field any account.Criteria[]?
---@field all account.Criteria[]?
---@field none account.Criteria[]?
---@field raw string?

---@class account.Mailbox
---@field [integer] account.Message?
local Mailbox = {}
---@param criteria? account.Criteria
---@return account.Set
function Mailbox:search(criteria) end
---@return account.Set
function Mailbox:all() end
---@param uids integer[]
---@return account.Set
function Mailbox:set(uids) end
---@param set account.Set
---@param items? string[] "envelope", "flags", "size", "date", "headers", "header:Name,Name", "body", "bodystructure"
---@return fun(): account.Message?
function Mailbox:messages(set, items) end
---Raises when the server says NO (a mailbox that is not there).
---@return {messages: integer, unseen: integer, uidnext: integer, uidvalidity: integer}
function Mailbox:status() end
---@param raw string
---@param opts? {flags: string[]?, date: integer?}
---@return integer? uid
function Mailbox:append(raw, opts) end
---One message (envelope, flags, size, date, headers by default), or nil; mbox[uid] too.
---@param uid integer
---@param items? string[]
---@return account.Message?
function Mailbox:message(uid, items) end
---The bytes of one part, as sent ("1", "1.2", "2.HEADER", "HEADER", "TEXT"), or nil.
---@param uid integer
---@param section string
---@return string?
function Mailbox:fetch_part(uid, section) end
---@return string
function Mailbox:name() end
---@return account.Account
function Mailbox:account() end

---@class account.Set
---@operator add(account.Set): account.Set
---@operator mul(account.Set): account.Set
---@operator sub(account.Set): account.Set
---@operator len: integer
local Set = {}
---@param f string|string[]
---@return account.Set
function Set:flag(f) end
---@param f string|string[]
---@return account.Set
function Set:unflag(f) end
---The flags become exactly f.
---@param f string|string[]
---@return account.Set
function Set:replace_flags(f) end
---@param dest string|account.Mailbox
---@param opts? {create: boolean?}
---@return account.Set
function Set:copy(dest, opts) end
---@param dest string|account.Mailbox
---@param opts? {create: boolean?}
---@return account.Set
function Set:move(dest, opts) end
---@return account.Set
function Set:delete() end
---@return integer[]
function Set:uids() end
---@return integer
function Set:count() end

---@class account.Message
---@field uid integer
---@field seq integer
---@field flags string[]
---@field seen boolean
---@field flagged boolean
---@field size integer
---@field date integer INTERNALDATE, epoch
---@field subject string
---@field from mail.Address[]
---@field to mail.Address[]
---@field cc mail.Address[]
---@field reply_to mail.Address[]
---@field message_id string
---@field headers table<string, string[]>?
---@field raw string?
local Message = {}
---@param name string
---@return string?
function Message:header(name) end

return account

---@class account.POP3Message
---@field num integer message number in this session
---@field uid string? its UIDL, when the server has UIDL
---@field size integer octets, as poplib counts them
---@field raw string the message (or with top, its header and first lines), CRLF line ends

---@class account.POP3
local POP3 = {}
---@return integer count, integer size
function POP3:stat() end
---@return {num: integer, uid: string?}[]
function POP3:uidl() end
---Messages in order, a window of commands in flight when the server pipelines.
---With delete, a message is marked deleted once the loop body for it returned
---(a raise or a break leaves it); the marks take effect at close().
---@param opts? {nums: integer[]?, top: integer?, delete: boolean?, window: integer?}
---@return fun(): account.POP3Message?
function POP3:messages(opts) end
---Marks message num deleted (DELE with the next command); it goes at close().
---@param num integer
function POP3:delete(num) end
---Whether the server offered PIPELINING.
---@return boolean
function POP3:pipelining() end
---Sends the marks asked for, then QUIT: only now are marked messages deleted.
function POP3:close() end
