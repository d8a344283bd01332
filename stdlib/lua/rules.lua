-- rules: sieve-like rules as data, applied to a mailbox.
--
--   local report = rules.apply(inbox, {
--     {name = "golang", match = {header = {["List-Id"] = "golang"}}, move = "Lists/golang"},
--     {name = "vip", match = {from = {"boss@example.com", "*@vip.example"}}, flag = "\\Flagged"},
--     {name = "spam", match = {header = {["X-Spam-Score"] = function(v) return tonumber(v) > 5 end}},
--      move = {special = "\\Junk"}, stop = true},
--     {name = "old", match = {older_than = "90d", seen = true},
--      move = function(msg) return "Archive/" .. os.date("%Y", msg.date) end},
--   })
--
-- Conditions (all must hold): from, to, cc, subject, header = {Name = value}, with a value
-- that is a string (case-insensitive substring), rules.glob("*@x.org"), rules.regex("..."),
-- a list of those (any may match) or a function(value) -> bool; body (the decoded plain text) and
-- raw (the whole message), which fetch bodies only when a rule has them; larger, smaller (bytes);
-- older_than, newer_than ("90d"); seen, flagged, answered (true/false); fn = function(msg);
-- any = {...}, all = {...}, none = {...} of condition tables.
-- Actions: move, copy (a name, a mailbox, {special = "\\Junk"} or function(msg) -> name),
-- flag, unflag (a flag or a list), delete = true, stop = true (no later rule sees the message;
-- a move or delete stops too, since the message is gone).
-- Incremental by default: the last UID handled is kept per account, mailbox and UIDVALIDITY
-- (state under $XDG_STATE_HOME/mailscript/), and a lock keeps two runs from both acting.
local host = ...
local re = require("re")
local state = require("state")

local rules = {}

local Glob, Regex = {}, {}
function rules.glob(p) return setmetatable({pattern = p}, Glob) end
function rules.regex(p) return setmetatable({pattern = p}, Regex) end

local function glob_to_re(p)
  return "(?i)^" .. re.quote(p):gsub("\\%*", ".*"):gsub("\\%?", ".") .. "$"
end

-- test reports whether a text value satisfies a condition value.
local function test(cond, value)
  if value == nil then return false end
  local mt = getmetatable(cond)
  if type(cond) == "function" then return cond(value) and true or false end
  if mt == Glob then return re.match(glob_to_re(cond.pattern), value) end
  if mt == Regex then return re.match(cond.pattern, value) end
  if type(cond) == "table" then
    for _, c in ipairs(cond) do if test(c, value) then return true end end
    return false
  end
  return value:lower():find(tostring(cond):lower(), 1, true) ~= nil
end

-- in address conditions a string with * or ? is a glob on the whole address
local function address_cond(c)
  if type(c) == "string" and c:find("[*?]") then return rules.glob(c) end
  if type(c) == "table" and getmetatable(c) == nil then
    local out = {}
    for i, x in ipairs(c) do out[i] = address_cond(x) end
    return out
  end
  return c
end

local function test_addresses(cond, list)
  cond = address_cond(cond)
  for _, a in ipairs(list or {}) do
    if test(cond, a.address) or (a.name ~= "" and test(cond, a.name)) then return true end
  end
  return false
end

local age = require("time").age

-- the decoded plain text of a message, parsed once per message
local texts = setmetatable({}, {__mode = "k"})
local function body_text(msg)
  local t = texts[msg]
  if t == nil then
    local m = msg.raw and require("mail").parse(msg.raw)
    t = m and m:text() or ""
    texts[msg] = t
  end
  return t
end

local function matches(cond, msg, now)
  for key, want in pairs(cond) do
    local ok
    if key == "from" or key == "to" or key == "cc" then
      ok = test_addresses(want, msg[key])
    elseif key == "subject" then
      ok = test(want, msg.subject or "")
    elseif key == "header" then
      ok = true
      for name, c in pairs(want) do
        if not test(c, msg:header(name)) then ok = false; break end
      end
    elseif key == "body" then ok = test(want, body_text(msg))
    elseif key == "raw" then ok = test(want, msg.raw or "")
    elseif key == "larger" then ok = (msg.size or 0) > want
    elseif key == "smaller" then ok = (msg.size or 0) < want
    elseif key == "older_than" then ok = msg.date ~= nil and msg.date < now - age(want)
    elseif key == "newer_than" then ok = msg.date ~= nil and msg.date >= now - age(want)
    elseif key == "seen" then ok = (msg.seen == true) == want
    elseif key == "flagged" then ok = (msg.flagged == true) == want
    elseif key == "answered" then
      local a = false
      for _, f in ipairs(msg.flags or {}) do a = a or f:lower() == "\\answered" end
      ok = a == want
    elseif key == "fn" then ok = want(msg) and true or false
    elseif key == "all" then
      ok = true
      for _, c in ipairs(want) do if not matches(c, msg, now) then ok = false; break end end
    elseif key == "any" then
      ok = false
      for _, c in ipairs(want) do if matches(c, msg, now) then ok = true; break end end
    elseif key == "none" then
      ok = true
      for _, c in ipairs(want) do if matches(c, msg, now) then ok = false; break end end
    else
      error("rules: unknown condition " .. tostring(key), 0)
    end
    if not ok then return false end
  end
  return true
end
rules.matches = matches


-- Checking a ruleset before anything is done: a typo in a key or a value
-- of the wrong type is an error naming the rule, never a rule that
-- silently matches nothing or does nothing.
local condition_keys = {from = true, to = true, cc = true, subject = true, header = true, body = true, raw = true,
  larger = true, smaller = true, older_than = true, newer_than = true, seen = true,
  flagged = true, answered = true, fn = true, any = true, all = true, none = true}
local rule_keys = {name = true, match = true, move = true, copy = true, flag = true,
  unflag = true, delete = true, stop = true}

-- distance is the edit distance of two short keys, for "did you mean".
local function distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = {[0] = i}
    for j = 1, #b do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

local function unknown(where, key, known)
  local best, bd
  if type(key) == "string" then
    for k in pairs(known) do
      local d = distance(key, k)
      if d <= 2 and (not bd or d < bd or (d == bd and k < best)) then best, bd = k, d end
    end
  end
  local msg = where .. ": unknown key " .. string.format("%q", tostring(key))
  if best then msg = msg .. " (did you mean " .. string.format("%q", best) .. "?)" end
  local names = {}
  for k in pairs(known) do names[#names + 1] = k end
  table.sort(names)
  return msg .. "; known: " .. table.concat(names, ", ")
end

local function text_value_ok(v)
  local t, mt = type(v), getmetatable(v)
  if t == "string" or t == "function" or mt == Glob or mt == Regex then return true end
  if t == "table" and mt == nil then
    for k, x in pairs(v) do
      if type(k) ~= "number" or not text_value_ok(x) then return false end
    end
    return true
  end
  return false
end

local function check_condition(where, cond)
  if type(cond) ~= "table" then
    error(where .. ": match must be a table of conditions, not a " .. type(cond), 0)
  end
  for key, want in pairs(cond) do
    local w = where .. ": " .. tostring(key)
    if not condition_keys[key] then error(unknown(where, key, condition_keys), 0) end
    local t = type(want)
    if key == "from" or key == "to" or key == "cc" or key == "subject" or key == "body" or key == "raw" then
      if not text_value_ok(want) then
        error(w .. " must be a string, rules.glob, rules.regex, a function or a list of those, not a " .. t, 0)
      end
    elseif key == "header" then
      if t ~= "table" then error(w .. " must be a table {Name = value}, not a " .. t, 0) end
      for name, v in pairs(want) do
        if type(name) ~= "string" or not text_value_ok(v) then
          error(w .. " [" .. tostring(name) .. "] must be a string, rules.glob, rules.regex, a function or a list of those", 0)
        end
      end
    elseif key == "larger" or key == "smaller" then
      if t ~= "number" then error(w .. " must be a number of bytes, not a " .. t .. " (" .. tostring(want) .. ")", 0) end
    elseif key == "older_than" or key == "newer_than" then
      local ok = (t == "string" or t == "number") and pcall(age, want)
      if not ok then error(w .. ' must be an age like "90d", "12h" or "2w", not ' .. string.format("%q", tostring(want)), 0) end
    elseif key == "seen" or key == "flagged" or key == "answered" then
      if t ~= "boolean" then error(w .. " must be true or false, not " .. t .. " " .. string.format("%q", tostring(want)), 0) end
    elseif key == "fn" then
      if t ~= "function" then error(w .. " must be a function(msg), not a " .. t, 0) end
    else -- any, all, none
      if t ~= "table" then error(w .. " must be a list of condition tables, not a " .. t, 0) end
      for i, c in ipairs(want) do check_condition(w .. "[" .. i .. "]", c) end
    end
  end
end

local function dest_ok(v)
  local t = type(v)
  return t == "string" or t == "function" or t == "userdata" or (t == "table" and v.special ~= nil)
end

local function flags_ok(v)
  if type(v) == "string" then return true end
  if type(v) ~= "table" then return false end
  for _, f in pairs(v) do if type(f) ~= "string" then return false end end
  return true
end

local function rule_label(r, i)
  if type(r) == "table" and type(r.name) == "string" then return string.format("rule %q", r.name) end
  return "rule " .. i
end

local function check_rules(ruleset)
  if type(ruleset) ~= "table" then error("rules.apply: the rules must be a list of tables, not a " .. type(ruleset), 0) end
  for i, r in ipairs(ruleset) do
    local where = "rules: " .. rule_label(r, i)
    if type(r) ~= "table" then error(where .. " must be a table, not a " .. type(r), 0) end
    for key, v in pairs(r) do
      if not rule_keys[key] then error(unknown(where, key, rule_keys), 0) end
      local t = type(v)
      if (key == "move" or key == "copy") and not dest_ok(v) then
        error(where .. ": " .. key .. ' must be a mailbox name, a mailbox, {special = "\\\\Junk"} or a function(msg), not a ' .. t, 0)
      elseif (key == "flag" or key == "unflag") and not flags_ok(v) then
        error(where .. ": " .. key .. " must be a flag or a list of flags, not a " .. t, 0)
      elseif (key == "delete" or key == "stop") and t ~= "boolean" then
        error(where .. ": " .. key .. " must be true or false, not a " .. t, 0)
      elseif key == "name" and t ~= "string" then
        error(where .. ": name must be a string, not a " .. t, 0)
      end
    end
    if r.match ~= nil then check_condition(where .. ": match", r.match) end
  end
end
rules.check = check_rules

-- needs_body says whether a condition reads the message's body, which
-- is fetched only then.
local function needs_body(cond)
  for key, want in pairs(cond or {}) do
    if key == "body" or key == "raw" then return true end
    if (key == "any" or key == "all" or key == "none") then
      for _, c in ipairs(want) do if needs_body(c) then return true end end
    end
  end
  return false
end

-- RuleError is a failure already naming its rule, message and mailbox.
local RuleError = {__tostring = function(e) return e.message end}

local function dest_name(acct, dest, msg, label, what, mbox_name)
  if type(dest) == "function" then
    dest = dest(msg)
    if type(dest) ~= "string" and type(dest) ~= "userdata" and not (type(dest) == "table" and dest.special) then
      error(setmetatable({message = string.format("rules: %s: the %s function returned %s for UID %s in %s (a mailbox name expected)",
        label, what, dest == nil and "nil" or ("a " .. type(dest)), tostring(msg.uid), mbox_name)}, RuleError), 0)
    end
  end
  if type(dest) == "table" and dest.special then return acct:mailbox(dest) end
  return dest
end

local function flags_of(v)
  if type(v) == "table" then return table.concat(v, " ") end
  return v
end

-- apply runs ruleset over mbox and returns (and prints, unless quiet) a report.
function rules.apply(mbox, ruleset, opts)
  opts = opts or {}
  check_rules(ruleset)
  local labels = {}
  for i, r in ipairs(ruleset) do labels[i] = rule_label(r, i) end
  local acct = mbox:account()
  local now = os.time()
  local st = mbox:status()
  local key = opts.state or ("rules-" .. acct:id() .. "-" .. mbox:name())
  local incremental = opts.incremental ~= false
  local doc, unlock
  if incremental then
    local err
    unlock, err = state.lock(key)
    if not unlock then error("rules: " .. err, 0) end
    doc = state.open(key)
    -- state kept before the key held the port: taken over once
    if not opts.state and doc:get("uidvalidity") == nil then
      local old = state.open("rules-" .. acct:id():gsub(":%d+$", "") .. "-" .. mbox:name())
      if old:get("uidvalidity") ~= nil then
        doc:set("uidvalidity", old:get("uidvalidity"))
        doc:set("last_uid", old:get("last_uid"))
      end
    end
  end
  local ok, report = pcall(function()
    local first = 1
    if incremental and doc:get("uidvalidity") == st.uidvalidity then
      first = (doc:get("last_uid") or 0) + 1
    end
    local candidates = mbox:search{uid = first .. ":*"}
    local report = {mailbox = mbox:name(), examined = 0, rules = {}}
    local plans = {}
    for i, r in ipairs(ruleset) do
      report.rules[i] = {name = r.name or ("rule " .. i), matched = 0, actions = {}}
      plans[i] = {uids = {}, dests = {}}
    end
    local last = first - 1
    local items = {"envelope", "flags", "size", "date", "headers"}
    for _, r in ipairs(ruleset) do
      if needs_body(r.match) then items[#items + 1] = "body"; break end
    end
    -- a failure inside a rule (a function of the script's, a condition)
    -- is reported naming the rule, the message and the mailbox; one pcall
    -- for the whole loop, with where it is kept in these
    local mbox_name = mbox:name()
    local cur_i, cur_msg, cur_what
    local looked, err = pcall(function()
      for msg in mbox:messages(candidates, items) do
        if msg.uid >= first then
          report.examined = report.examined + 1
          if msg.uid > last then last = msg.uid end
          for i, r in ipairs(ruleset) do
            cur_i, cur_msg, cur_what = i, msg, "match"
            if matches(r.match or {}, msg, now) then
              report.rules[i].matched = report.rules[i].matched + 1
              local p = plans[i]
              p.uids[#p.uids + 1] = msg.uid
              for _, what in ipairs{"move", "copy"} do
                if r[what] then
                  cur_what = what .. " function"
                  local d = dest_name(acct, r[what], msg, labels[i], what, mbox_name)
                  local k = what .. "\0" .. (type(d) == "string" and d or tostring(d))
                  p.dests[k] = p.dests[k] or {what = what, dest = d, uids = {}}
                  table.insert(p.dests[k].uids, msg.uid)
                end
              end
              -- a moved or deleted message is gone: no later rule sees it
              if r.stop or r.move or r.delete then break end
            end
          end
          cur_i = nil
        end
      end
    end)
    if not looked then
      if cur_i == nil or getmetatable(err) == RuleError then error(err, 0) end
      error(string.format("rules: %s: %s failed on UID %s in %s: %s", labels[cur_i], cur_what,
        tostring(cur_msg.uid), mbox_name, tostring(err)), 0)
    end
    -- act, rule by rule: flags first, then copies, then moves and deletes
    for i, r in ipairs(ruleset) do
      local p, out = plans[i], report.rules[i].actions
      if #p.uids > 0 then
        host.set_rule(r.name or ("rule " .. i))
        local s = mbox:set(p.uids)
        if r.flag then s:flag(flags_of(r.flag)); out[#out + 1] = "flag " .. flags_of(r.flag) end
        if r.unflag then s:unflag(flags_of(r.unflag)); out[#out + 1] = "unflag " .. flags_of(r.unflag) end
        for _, what in ipairs{"copy", "move"} do
          for _, d in pairs(p.dests) do
            if d.what == what then
              local s2 = mbox:set(d.uids)
              s2[what](s2, d.dest, {create = opts.create ~= false})
              local label = type(d.dest) == "string" and d.dest or d.dest:name()
              out[#out + 1] = what .. " " .. label .. " (" .. #d.uids .. ")"
            end
          end
        end
        if r.delete then s:delete(); out[#out + 1] = "delete" end
      end
    end
    -- every action confirmed before the progress is saved: what failed is
    -- looked at again next time
    host.set_rule(nil)
    acct:flush()
    -- a dry run changes nothing, its state included
    if incremental and not require("account").dry_run then
      doc:set("uidvalidity", st.uidvalidity)
      doc:set("last_uid", math.max(last, first - 1))
      doc:save()
    end
    return report
  end)
  host.set_rule(nil)
  if unlock then unlock() end
  if not ok then error(report, 0) end
  host.report(report)
  if not opts.quiet then rules.print(report) end
  return report
end

function rules.print(report)
  print(string.format("%s: %d message(s) examined", report.mailbox, report.examined))
  for _, r in ipairs(report.rules) do
    local acts = #r.actions > 0 and table.concat(r.actions, ", ") or "-"
    print(string.format("  %-24s %5d matched  %s", r.name, r.matched, acts))
  end
end

return rules
