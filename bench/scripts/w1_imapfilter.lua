-- W1 triage with imapfilter, as its users write it.
options.timeout = 300
options.starttls = false
options.certificates = false
options.subscribe = false

local account = IMAP {
  server = os.getenv("B_HOST"),
  port = tonumber(os.getenv("B_PORT")),
  username = os.getenv("B_USER"),
  password = os.getenv("B_PASSWORD"),
}
local unseen = account.INBOX:is_unseen()
local vip = unseen:match_from("corp\\.example")
local lists = unseen:match_field("List-Id", "golang|dovecot")
local news = unseen:match_from("shop\\.example") - lists
local receipts = unseen:match_subject("invoice|order") - lists - news
vip:mark_flagged()
lists:move_messages(account.Lists)
news:move_messages(account.Newsletters)
receipts:move_messages(account.Receipts)
