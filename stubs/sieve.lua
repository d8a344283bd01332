---@meta sieve
-- LuaLS stubs for require("sieve"): Sieve (RFC 5228) scripts evaluated with no server
-- (script:test) or run over an IMAP mailbox (script:run, RFC 6785).

---@class sieve
local sieve = {}

---@class sieve.CompileOptions
---@field name? string shown in errors (default "script")
---@field include_dir? string where include finds NAME.sieve; without it include is refused (never allowed in the sandbox)

---Compiles a script; raises with every compile error, one a line as sievec prints them.
---@param text string
---@param opts? sieve.CompileOptions
---@return sieve.Script
function sieve.compile(text, opts) end

---@class sieve.TestOptions
---@field envelope_from? string without envelope_from or envelope_to the envelope test is a runtime error
---@field envelope_to? string
---@field mailbox? string the mailbox the message is in (default "INBOX")
---@field flags? string[]|string the message's current flags, a list or space-separated

---@class sieve.Action
---@field action string "keep", "fileinto", "discard", "redirect", "reject", "ereject" or "vacation"
---@field mailbox? string fileinto
---@field flags? string[] keep, fileinto: the flags at that moment
---@field copy? boolean fileinto, redirect
---@field create? boolean fileinto
---@field address? string redirect
---@field reason? string reject, ereject, vacation
---@field subject? string vacation
---@field days? integer vacation

---@class sieve.Result
---@field actions sieve.Action[] in the order the script performs them
---@field implicit_keep? {flags: string[]} nil unless the message stays through the implicit keep
---@field errors string[] runtime errors

---A compiled script.
---@class sieve.Script
local Script = {}

---Evaluates the script on one raw message; nothing is sent or stored.
---@param raw_message string
---@param opts? sieve.TestOptions
---@return sieve.Result
function Script:test(raw_message, opts) end

---@class sieve.RunOptions
---@field all? boolean every message, not only those after the last run's (UIDVALIDITY and last UID kept in state)
---@field discard? "expunge"|"keep"|"trash" what discard does: \Deleted and UID EXPUNGE (default), nothing, or a move to the \Trash special-use mailbox (else "Trash")
---@field state? string the state key (default "sieve-USER@HOST:PORT-MAILBOX")

---@class sieve.RunMessage
---@field uid integer
---@field result "kept"|"filed"|"discarded"
---@field actions sieve.Action[]
---@field implicit_keep boolean
---@field errors string[] runtime errors: the message was kept (RFC 5228 §2.10.6)

---@class sieve.RunReport
---@field mailbox string
---@field examined integer
---@field messages sieve.RunMessage[]
---@field totals {kept: integer, filed: integer, discarded: integer, errors: integer}

---Runs the script over mailbox: the messages of set, or without one those that arrived since the
---last run (incremental). In a dry run nothing changes and every command goes into the plan.
---@param mailbox account.Mailbox
---@param set? account.Set
---@param opts? sieve.RunOptions
---@return sieve.RunReport
function Script:run(mailbox, set, opts) end

return sieve
