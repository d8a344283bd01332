-- The account module on every server (SERVER): search, sets, actions, messages.
local account = require("account")

local function connect()
  return account.connect{host = SERVER.host, port = SERVER.imaps, user = USER,
    password = SERVER.password, ssl_context = {ca_file = SERVER.ca_file}}
end

function test_search_sets_and_move()
  seed(USER, 60)
  local acct = connect()
  local inbox = acct:mailbox("INBOX")
  local all = inbox:all()
  assert_eq(#all, 60)
  local unseen = inbox:search{unseen = true}
  local seen = inbox:search{seen = true}
  assert_eq(#unseen + #seen, 60, "seen and unseen split the mailbox")
  assert_eq(#(unseen * seen), 0); assert_eq(#(unseen + seen), 60); assert_eq(#(all - seen), #unseen)
  local lists = inbox:search{header = {["List-Id"] = "golang"}}
  local any = inbox:search{any = {{header = {["List-Id"] = "golang"}}, {header = {["List-Id"] = "dovecot"}}}}
  assert_true(#any >= #lists, "any is a union")
  local none = inbox:search{none = {{seen = true}}}
  assert_eq(#none, #unseen, "none of seen is unseen")
  assert_eq(#inbox:search{larger = 20000} + #inbox:search{smaller = 20001}, 60)
  assert_eq(#inbox:search{older_than = "1d"}, 60, "generated mail is from 2024")
  assert_eq(#inbox:search{newer_than = "1d"}, 0)
  assert_eq(#inbox:search{since = "2024-01-01", uid = "1:10"}, 10)
  assert_eq(#inbox:search{from = "müller"} >= 0, true, "8-bit criteria go as literals")
  assert_true(#inbox:search{subject = "café"} > 0, "8-bit terms find mail (CHARSET UTF-8: Cyrus needs it)")

  -- move: MOVE on Dovecot, creating the destination on request
  local moved = inbox:search{uid = "1:25"}
  moved:move("Archive/2024", {create = true})
  assert_eq(#inbox:all(), 35)
  local archive = acct:mailbox("Archive/2024")
  assert_eq(#archive:all(), 25)
  -- flag, unflag, copy, delete
  local first = archive:search{uid = "1:5"}
  first:flag("\\Flagged")
  assert_eq(#(archive:search{flagged = true} * first), 5)
  first:unflag({"\\Flagged"})
  assert_eq(#(archive:search{flagged = true} * first), 0)
  first:copy("Junk")
  assert_eq(#acct:mailbox{special = "\\Junk"}:all(), 5)
  first:delete()
  assert_eq(#archive:all(), 20)
  local report = acct:report()
  assert_eq(report[1].action, "move"); assert_eq(report[1].count, 25); assert_eq(report[1].dest, "Archive/2024")
  -- actions are queued and sent with the next command: flush() confirms them
  local ok, err = pcall(function() inbox:search{uid = "26:30"}:move("Nope/x"); acct:flush() end)
  assert_true(not ok and err.message:find("Nope"), "moving to a missing mailbox without create fails")
  acct:close()
end

function test_messages_iterator()
  local raws = seed(USER, 450)
  local acct = connect()
  local inbox = acct:mailbox("INBOX")
  local n, last = 0, 0
  for msg in inbox:messages(inbox:all(), {"envelope", "flags", "size", "headers"}) do
    n = n + 1
    assert_true(msg.uid > last, "in UID order"); last = msg.uid
    assert_eq(msg.size, #raws[msg.uid])
    assert_true(msg.subject ~= nil and msg.from[1].address:find("@"), "envelope")
    assert_true(msg:header("Message-ID"):find("mailgen"), "header()")
    if n == 300 then
      -- acting mid-iteration waits for the prefetch, then goes on
      inbox:search{uid = tostring(msg.uid)}:flag("$Seen300")
    end
  end
  assert_eq(n, 450)
  assert_eq(#inbox:search{keyword = "$Seen300"}, 1)
  acct:close()
end

function test_connect_rules()
  local ok, err = pcall(account.connect, {host = "imap.example.org", user = "u", password = "p", tls = "none"})
  assert_true(not ok and err.message:find("clear text"), "plaintext refused off loopback")
  local acct = account.connect{host = SERVER.host, port = SERVER.imap, user = USER, password = SERVER.password, tls = "none"}
  acct:close()
  acct = account.connect{host = "localhost", port = SERVER.imap, user = USER, password = SERVER.password,
    tls = "starttls", ssl_context = {ca_file = SERVER.ca_file}}
  local names = acct:mailboxes()
  assert_true(#names >= 5, "mailboxes listed")
  acct:close()
  ok, err = pcall(account.secret, "env:MAILSCRIPT_NO_SUCH_VARIABLE")
  assert_true(not ok and err.message:find("not set"), "missing env secret")
  -- a secret is passed on, never read: tostring shows only its kind
  local pw = account.secret("cmd:printf '" .. SERVER.password .. "\\n'")
  assert_eq(tostring(pw), "<secret cmd>")
  acct = account.connect{host = SERVER.host, port = SERVER.imap, user = USER, password = pw, tls = "none"}
  acct:close()
  ok = pcall(account.secret, "plain-password")
  assert_true(not ok, "a bare word is not a secret spec")
end

function test_cross_account_move()
  seed(USER, 30)
  local a = connect()
  local b = account.connect{host = SERVER.host, port = SERVER.imaps, user = USER .. "-other",
    password = SERVER.password, ssl_context = {ca_file = SERVER.ca_file}}
  local inbox = a:mailbox("INBOX")
  local flagged_before = #inbox:search{seen = true}
  local some = inbox:search{uid = "1:12"}
  some:copy(b:mailbox("Copied"), {create = true})
  assert_eq(#b:mailbox("Copied"):all(), 12, "copied across accounts")
  assert_eq(#inbox:all(), 30, "copy leaves the source")
  inbox:search{uid = "13:30"}:move(b:mailbox("INBOX"))
  assert_eq(#inbox:all(), 12, "move removes what arrived")
  assert_eq(#b:mailbox("INBOX"):all(), 18)
  -- flags and internal dates travel
  local seen_src = #inbox:search{seen = true, uid = "1:12"}
  assert_eq(#b:mailbox("Copied"):search{seen = true}, seen_src, "flags kept")
  for msg in b:mailbox("Copied"):messages(b:mailbox("Copied"):all(), {"date"}) do
    assert_true(msg.date < os.time() - 86400, "internal date kept (2024)")
  end
  local r = a:report()
  assert_eq(r[#r].action, "move"); assert_eq(r[#r].count, 18)
  a:close(); b:close()
end

function test_watch()
  local acct = connect()
  later(0.5, USER, "append")
  later(1.0, USER, "append")
  local got = 0
  local result = acct:watch({"INBOX"}, function(mbox, msgs)
    assert_eq(mbox:name(), "INBOX")
    for _, m in ipairs(msgs) do
      assert_eq(m.subject, "later")
      got = got + 1
    end
    return got >= 2
  end, {duration = 10})
  assert_eq(result, true, "fn stopped the watch")
  assert_eq(got, 2)
  -- a duration ends a quiet watch
  local start = os.time()
  assert_eq(acct:watch({"INBOX"}, function() return true end, {duration = 1}), nil)
  assert_true(os.time() - start <= 3, "duration honoured")
  acct:close()
end

-- A "." in a folder name: kept as one name where "." is not the separator
-- (Cyrus), refused naming the folder where it is (Courier) or where the
-- server refuses it (Dovecot's Maildir++); never nested folders.
function test_dotted_folder_name()
  seed(USER, 2)
  local acct = connect()
  local inbox = acct:mailbox("INBOX")
  local name = "Dotted/dovecot.example.org"
  if SERVER.sep == "." or SERVER.no_dot then
    local ok, err = pcall(acct.mailbox, acct, name)
    if SERVER.sep == "." then
      assert_true(not ok and err.message:find(name, 1, true) and err.message:find("separator"), tostring(err and err.message))
    end
    ok, err = pcall(function() inbox:all():move(name, {create = true}); acct:flush() end)
    assert_true(not ok and err.message:find(name, 1, true), "move refused too")
    assert_eq(#inbox:all(), 2, "nothing moved")
    for _, n in ipairs(acct:mailboxes()) do assert_true(not n:find("^Dotted"), "no folder made: " .. n) end
  else
    inbox:all():move(name, {create = true})
    assert_eq(#acct:mailbox(name):all(), 2)
    local found = false
    for _, n in ipairs(acct:mailboxes()) do found = found or n == name end
    assert_true(found, "one folder of that name")
  end
  acct:close()
end
