-- rules and state on every server (SERVER).
local account, rules, state = require("account"), require("rules"), require("state")

local function connect()
  return account.connect{host = SERVER.host, port = SERVER.imaps, user = USER,
    password = SERVER.password, ssl_context = {ca_file = SERVER.ca_file}}
end

local ruleset = {
  {name = "golang", match = {header = {["List-Id"] = "golang"}}, move = "Lists/golang"},
  {name = "lists", match = {header = {["List-Id"] = rules.regex("\\.(org|com)>$")}}, move = function(msg)
    return "Lists/" .. msg:header("List-Id"):match("^(%S+)")
  end},
  {name = "shops", match = {from = {"*@shop.example", "*@travel.example"}}, flag = "$Shop", stop = true},
  {name = "spam", match = {header = {["X-Spam-Score"] = function(v) return tonumber(v) >= 10 end}},
   move = {special = "\\Junk"}},
  {name = "big", match = {larger = 50000}, flag = {"$Big"}},
  {name = "never", match = {subject = "no such subject anywhere"}, delete = true},
}

function test_apply_and_incremental()
  local raws = seed(USER, 120)
  local acct = connect()
  local inbox = acct:mailbox("INBOX")
  local report = rules.apply(inbox, ruleset, {quiet = true})
  assert_eq(report.examined, 120)
  local by = {}
  for _, r in ipairs(report.rules) do by[r.name] = r end
  -- what the rules did agrees with what the mailbox says now
  local golang = acct:mailbox("Lists/golang")
  assert_eq(#golang:all(), by.golang.matched, "golang moved")
  assert_true(by.golang.matched > 0 and by.lists.matched > 0 and by.shops.matched > 0, "rules matched")
  assert_eq(#inbox:search{keyword = "$Shop"}, by.shops.matched)
  assert_eq(by.never.matched, 0); assert_eq(#by.never.actions, 0)
  local moved = 0
  for _, name in ipairs(acct:mailboxes()) do
    if name:find("^Lists/") then moved = moved + #acct:mailbox(name):all() end
  end
  local junk = #acct:mailbox{special = "\\Junk"}:all()
  assert_eq(#inbox:all() + moved + junk, 120, "no message lost or duplicated")
  assert_eq(junk, by.spam.matched)
  -- incremental: a second run sees nothing new
  report = rules.apply(inbox, ruleset, {quiet = true})
  assert_eq(report.examined, 0)
  -- a new message is seen, and only it
  inbox:append("From: a@shop.example\r\nSubject: sale\r\n\r\nbuy\r\n")
  report = rules.apply(inbox, ruleset, {quiet = true})
  assert_eq(report.examined, 1); assert_eq(report.rules[3].matched, 1)
  acct:close()
end

function test_lock_and_state()
  local unlock = state.lock("rules-lock-test")
  assert_true(unlock ~= nil, "lock taken")
  local again, err = state.lock("rules-lock-test")
  assert_eq(again, nil); assert_true(err:find("locked"), err)
  unlock()
  assert_true(state.lock("rules-lock-test") ~= nil, "lock free again")
  local doc = state.open("notes")
  doc:set("seen", {1, 2, 3}); doc:set("last", "x")
  doc:save()
  local doc2 = state.open("notes")
  assert_eq(doc2:get("last"), "x"); assert_eq(#doc2:get("seen"), 3)
  -- rules refuse to run while another run holds the mailbox's lock
  seed(USER, 3)
  local acct = connect()
  local inbox = acct:mailbox("INBOX")
  local held = state.lock("rules-" .. acct:id() .. "-INBOX")
  local ok, e = pcall(rules.apply, inbox, ruleset, {quiet = true})
  assert_true(not ok and tostring(e):find("locked"), tostring(e))
  held()
  assert_eq(rules.apply(inbox, ruleset, {quiet = true}).examined, 3)
  acct:close()
end

function test_conditions()
  local msg = {subject = "[PATCH] fix", from = {{name = "Bob", address = "bob@vip.example"}}, size = 10,
    date = os.time() - 100 * 86400, flags = {"\\Seen"}, seen = true,
    header = function(self, n) if n == "X-Prio" then return "1" end end}
  local now = os.time()
  assert_true(rules.matches({subject = rules.regex("^\\[PATCH\\]")}, msg, now))
  assert_true(rules.matches({from = "*@vip.example"}, msg, now))
  assert_true(rules.matches({from = "bob"}, msg, now))
  assert_true(not rules.matches({from = "alice"}, msg, now))
  assert_true(rules.matches({older_than = "90d", seen = true, smaller = 11}, msg, now))
  assert_true(not rules.matches({newer_than = "90d"}, msg, now))
  assert_true(rules.matches({any = {{from = "x"}, {header = {["X-Prio"] = "1"}}}}, msg, now))
  assert_true(rules.matches({none = {{flagged = true}}}, msg, now))
  assert_true(rules.matches({fn = function(m) return m.size == 10 end}, msg, now))
  assert_true(not pcall(rules.matches, {colour = "red"}, msg, now), "unknown condition raises")
end

function test_uidvalidity_change_starts_over()
  seed(USER, 5)
  local acct = connect()
  local inbox = acct:mailbox("INBOX")
  local key = "rules-" .. acct:id() .. "-INBOX"
  assert_eq(rules.apply(inbox, {{name = "none", match = {subject = "zzz"}, flag = "$X"}}, {quiet = true}).examined, 5)
  assert_eq(rules.apply(inbox, {{name = "none", match = {subject = "zzz"}, flag = "$X"}}, {quiet = true}).examined, 0)
  -- as if the server had rebuilt the mailbox: a new UIDVALIDITY
  local doc = state.open(key)
  doc:set("uidvalidity", doc:get("uidvalidity") + 1); doc:save()
  assert_eq(rules.apply(inbox, {{name = "none", match = {subject = "zzz"}, flag = "$X"}}, {quiet = true}).examined, 5)
  acct:close()
end
