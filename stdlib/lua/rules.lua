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
-- a list of those (any may match) or a function(value) -> bool; larger, smaller (bytes);
-- older_than, newer_than ("90d"); seen, flagged, answered (true/false); fn = function(msg);
-- any = {...}, all = {...}, none = {...} of condition tables.
-- Actions: move, copy (a name, a mailbox, {special = "\\Junk"} or function(msg) -> name),
-- flag, unflag (a flag or a list), delete = true, stop = true (no later rule sees the message;
-- a move or delete stops too, since the message is gone).
-- Incremental by default: the last UID handled is kept per account, mailbox and UIDVALIDITY
-- (state under $XDG_STATE_HOME/mailscript/), and a lock keeps two runs from both acting.
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

local function dest_name(acct, dest, msg)
  if type(dest) == "function" then dest = dest(msg) end
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
    for msg in mbox:messages(candidates, {"envelope", "flags", "size", "date", "headers"}) do
      if msg.uid >= first then
        report.examined = report.examined + 1
        if msg.uid > last then last = msg.uid end
        for i, r in ipairs(ruleset) do
          if matches(r.match or {}, msg, now) then
            report.rules[i].matched = report.rules[i].matched + 1
            local p = plans[i]
            p.uids[#p.uids + 1] = msg.uid
            for _, what in ipairs{"move", "copy"} do
              if r[what] then
                local d = dest_name(acct, r[what], msg)
                local k = what .. "\0" .. (type(d) == "string" and d or tostring(d))
                p.dests[k] = p.dests[k] or {what = what, dest = d, uids = {}}
                table.insert(p.dests[k].uids, msg.uid)
              end
            end
            -- a moved or deleted message is gone: no later rule sees it
            if r.stop or r.move or r.delete then break end
          end
        end
      end
    end
    -- act, rule by rule: flags first, then copies, then moves and deletes
    for i, r in ipairs(ruleset) do
      local p, out = plans[i], report.rules[i].actions
      if #p.uids > 0 then
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
    acct:flush()
    -- a dry run changes nothing, its state included
    if incremental and not require("account").dry_run then
      doc:set("uidvalidity", st.uidvalidity)
      doc:set("last_uid", math.max(last, first - 1))
      doc:save()
    end
    return report
  end)
  if unlock then unlock() end
  if not ok then error(report, 0) end
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
