---@meta rules
-- LuaLS stubs for require("rules"): sieve-like rules as data.

---@class rules
local rules = {}

---@alias rules.Text string|rules.Pattern|fun(value: string): boolean|(string|rules.Pattern)[]

---@class rules.Pattern
---@field pattern string

---@class rules.Condition
---@field from rules.Text?
---@field to rules.Text?
---@field cc rules.Text?
---@field subject rules.Text?
---@field header table<string, rules.Text>?
---@field body rules.Text? the decoded plain text (bodies fetched only when a rule has this)
---@field raw rules.Text? the whole message
---@field larger integer?
---@field smaller integer?
---@field older_than string?
---@field newer_than string?
---@field seen boolean?
---@field flagged boolean?
---@field answered boolean?
---@field fn (fun(msg: account.Message): boolean)?
---@field any rules.Condition[]?
---@field all rules.Condition[]?
---@field none rules.Condition[]?

---@alias rules.Dest string|account.Mailbox|{special: string}|fun(msg: account.Message): string

---@class rules.Rule
---@field name string?
---@field match rules.Condition?
---@field move rules.Dest?
---@field copy rules.Dest?
---@field flag string|string[]|nil
---@field unflag string|string[]|nil
---@field delete boolean?
---@field stop boolean?

---@class rules.Report
---@field mailbox string
---@field examined integer
---@field rules {name: string, matched: integer, actions: string[]}[]

---Unknown keys and mistyped values raise, naming the rule.
---@param mbox account.Mailbox
---@param ruleset rules.Rule[]
---@param opts? {incremental: boolean?, state: string?, quiet: boolean?, create: boolean?}
---@return rules.Report
function rules.apply(mbox, ruleset, opts) end
---Checks a ruleset without applying it; raises on the first mistake.
---@param ruleset rules.Rule[]
function rules.check(ruleset) end
---@param p string
---@return rules.Pattern
function rules.glob(p) end
---@param p string RE2
---@return rules.Pattern
function rules.regex(p) end
---@param cond rules.Condition
---@param msg account.Message
---@param now integer
---@return boolean
function rules.matches(cond, msg, now) end
---@param report rules.Report
function rules.print(report) end

return rules
