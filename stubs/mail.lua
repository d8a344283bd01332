---@meta mail
-- LuaLS stubs for require("mail"): parse and build RFC 5322 messages.

---@class mail
local mail = {}

---@class mail.Address
---@field name string
---@field address string

---@class mail.Part
---@field content_type string
---@field charset string
---@field filename string
---@field disposition string
---@field size integer
---@field body string
---@field section string

---@class mail.Message
---@field subject string
---@field headers table<string, string[]>
---@field from mail.Address[]
---@field to mail.Address[]
---@field cc mail.Address[]
---@field bcc mail.Address[]
---@field reply_to mail.Address[]
---@field sender mail.Address[]
---@field date integer?
---@field date_string string
---@field message_id string
---@field in_reply_to string
---@field size integer
---@field raw string
local Message = {}
---@param name string
---@return string?
function Message:header(name) end
---@return string
function Message:text() end
---@return string?
function Message:html() end
---@return mail.Part[]
function Message:parts() end
---@return mail.Part[]
function Message:attachments() end

---@param raw string
---@return mail.Message? message, string? err
function mail.parse(raw) end

---@param m {from: string?, to: string|string[]|nil, cc: any, bcc: any, reply_to: any, subject: string?, text: string?, html: string?, attachments: {filename: string, content_type: string?, data: string}[]?, date: integer?, message_id: string?, headers: table<string, string>?}
---@return string raw CRLF line endings
function mail.new(m) end

---@param s string
---@return string
function mail.decode_header(s) end
---@param s string
---@return mail.Address[]
function mail.parse_addresses(s) end
---@param s string
---@return integer? epoch
function mail.parse_date(s) end
---@param epoch? integer
---@return string
function mail.format_date(epoch) end

return mail
