-- The imap module against every server (SERVER says which and its quirks): every method, imaplib's results.
local imap = require("imap")

local function connect()
  local M = imap.IMAP4(SERVER.host, SERVER.imap)
  local typ, data = M:login(USER, SERVER.password)
  assert_eq(typ, "OK", "login")
  return M
end

function test_connect_select_search_fetch()
  local raws = seed(USER, 12)
  local M = connect()
  assert_eq(M.state, "AUTH", "state")
  assert_eq(M.PROTOCOL_VERSION, "IMAP4REV1")
  assert_true(M.welcome:find(SERVER.greeting, 1, true), "welcome")
  local has_move = false
  for _, c in ipairs(M.capabilities) do has_move = has_move or c == "MOVE" end
  assert_eq(has_move, SERVER.move, "capabilities refreshed after login")

  local typ, data, st = M:select("INBOX")
  assert_eq(typ, "OK"); assert_eq(data[1], "12", "select data")
  assert_eq(st.exists, 12); assert_eq(st.readonly, false); assert_true(st.uidvalidity > 0)
  assert_eq(M.state, "SELECTED")

  typ, data, hits = M:search(nil, "ALL")
  assert_eq(data[1], "1 2 3 4 5 6 7 8 9 10 11 12", "search data")
  assert_eq(#hits, 12); assert_eq(hits[12], 12)
  typ, data, hits = M:search(nil, "UID", "3:4", {uid = true})
  assert_eq(#hits, 2); assert_eq(hits[1], 3)
  if SERVER.esearch then -- RFC 4731: MIN, MAX and COUNT describe the hits; only ALL lists them
    typ, data, hits = M:search(nil, "RETURN", "(MIN MAX COUNT)", "ALL")
    assert_eq(#hits, 0, "ESEARCH MIN/MAX/COUNT listed as hits")
    assert_eq(hits.min, 1); assert_eq(hits.max, 12); assert_eq(hits.count, 12)
    typ, data, hits = M:search(nil, "RETURN", "(COUNT ALL)", "2:4")
    assert_eq(#hits, 3); assert_eq(hits[1], 2); assert_eq(hits[3], 4); assert_eq(hits.count, 3)
  end

  typ, data, msgs = M:fetch("1:2", "(UID FLAGS RFC822.SIZE ENVELOPE BODY.PEEK[])")
  assert_eq(typ, "OK")
  assert_eq(type(data[1]), "table", "a literal gives a {header, literal} pair")
  assert_eq(data[1][2], raws[1], "literal bytes")
  assert_true(data[1][1]:find("^1 %(") and data[1][1]:find("UID 1 "), "header " .. data[1][1])
  assert_eq(data[2], ")", "trailer")
  assert_eq(#msgs, 2)
  assert_eq(msgs[1].seq, 1); assert_eq(msgs[1].uid, 1); assert_eq(msgs[1].size, #raws[1])
  assert_eq(msgs[2].body[""], raws[2])
  assert_true(msgs[1].envelope.subject ~= "" and msgs[1].envelope.from[1].address:find("@"), "envelope")

  -- the key as the docs show it, whatever the server echoes (Courier quotes the names)
  typ, data, msgs = M:fetch("1", "(BODY.PEEK[HEADER.FIELDS (Subject)])")
  assert_true(msgs[1].body["HEADER.FIELDS (SUBJECT)"]:find("^Subject: "), "HEADER.FIELDS key")

  typ, data, msgs = M:FETCH("3", "(BODYSTRUCTURE INTERNALDATE)", {uid = true})
  assert_eq(msgs[1].uid, 3)
  assert_true(msgs[1].bodystructure.type ~= nil, "bodystructure")
  assert_true(msgs[1].internaldate_time > 1700000000, "internaldate_time")
  local t = imap.Internaldate2tuple('INTERNALDATE "' .. msgs[1].internaldate .. '"')
  assert_eq(os.time(t), msgs[1].internaldate_time, "Internaldate2tuple round trip")

  typ, data, msgs = M:store("1", "+FLAGS", "(\\Flagged)")
  assert_eq(#msgs, 1)
  local flagged = false
  for _, f in ipairs(msgs[1].flags) do flagged = flagged or f == "\\Flagged" end
  assert_true(flagged, "store returns the new flags")
  typ, data, hits = M:sort("REVERSE ARRIVAL", "UTF-8", "ALL")
  assert_eq(hits[1], 12)
  typ, data, threads = M:thread("REFERENCES", "UTF-8", "ALL")
  assert_eq(typ, "OK"); assert_true(#threads > 0)
  typ, data, hits = M:uid("SEARCH", "ALL")
  assert_eq(#hits, 12)
  typ, data = M:noop(); assert_eq(typ, "OK")
  typ, data = M:check(); assert_eq(typ, "OK")
  typ, data = M:logout()
  assert_eq(typ, "BYE"); assert_eq(M.state, "LOGOUT")
end

function test_mailboxes_copy_move_expunge()
  seed(USER, 6)
  local M = connect()
  local archive, entw, drafts2 = folder("Archive/2024"), folder("Entwürfe"), folder("Drafts2")
  assert_eq(M:create(archive), "OK")
  assert_eq(M:CREATE(entw), "OK")
  local typ, data, boxes = M:list()
  local names = {}
  for _, b in ipairs(boxes) do names[b.name] = b end
  assert_true(names[entw] and names[entw].raw_name == SERVER.prefix .. "Entw&APw-rfe", "UTF-7 decoded")
  assert_eq(names[archive].delimiter, SERVER.sep)
  assert_eq(M:rename(entw, drafts2), "OK")
  assert_eq(M:subscribe(drafts2), "OK")
  typ, data, boxes = M:lsub()
  local subscribed = false
  for _, b in ipairs(boxes) do subscribed = subscribed or b.name == drafts2 end
  assert_true(subscribed, "lsub lists what was subscribed")
  assert_eq(M:unsubscribe(drafts2), "OK")
  assert_eq(M:delete(drafts2), "OK")

  M:select("INBOX")
  local typ, data, cu = M:copy("1:2", archive)
  assert_eq(typ, "OK"); assert_eq(#cu.dest, 2)
  if SERVER.move then
    typ, data, cu = M:move("3", archive, {uid = true})
    assert_eq(typ, "OK"); assert_eq(cu.source[1], 3)
  else -- what a move is without MOVE
    typ, data, cu = M:copy("3", archive, {uid = true})
    assert_eq(typ, "OK"); assert_eq(cu.source[1], 3)
    M:store("3", "+FLAGS.SILENT", "\\Deleted", {uid = true})
    M:expunge("3", {uid = true})
  end
  typ, data = M:copy("1", folder("NoSuchBox"))
  assert_eq(typ, "NO"); assert_true(data[1]:find("TRYCREATE"), "TRYCREATE in data")
  M:response("EXPUNGE")
  M:store("1:2", "+FLAGS.SILENT", "\\Deleted")
  typ, data, gone = M:expunge()
  assert_eq(#gone, 2)
  M:store("1", "+FLAGS.SILENT", "\\Deleted")
  typ, data, gone = M:expunge("4", {uid = true}) -- seq 1 is UID 4 now
  assert_eq(#gone, 1)
  typ, data, st = M:status(archive, "(MESSAGES UIDNEXT)")
  assert_eq(st.messages, 3)
  typ, data, au = M:append(archive, "(\\Seen)", os.time{year=2020, month=1, day=2, hour=3}, "Subject: x\n\nbody\n")
  assert_eq(typ, "OK"); assert_eq(au.uid, 4)
  local unselect = false
  for _, c in ipairs(M.capabilities) do unselect = unselect or c == "UNSELECT" end
  assert_eq(unselect and M:unselect() or M:close(), "OK") -- Courier has no UNSELECT
  assert_eq(M.state, "AUTH")
  typ, data, st = M:select(archive, true)
  assert_eq(st.readonly, true)
  assert_eq(M:close(), "OK")
  M:logout()
end

function test_extensions()
  local M = connect()
  local typ, data, ns = M:namespace()
  assert_eq(ns.personal[1].delimiter, SERVER.sep)
  assert_eq(ns.personal[1].prefix, SERVER.prefix)
  if SERVER.name ~= "dovecot" then M:logout(); return end -- quota, ACL, ID and ENABLE as Dovecot has them
  typ, data, q = M:getquotaroot("INBOX")
  assert_eq(type(data[1]), "table", "[quotaroot, quota] as imaplib")
  assert_eq(q.roots[1], "User quota")
  typ, data, q = M:getquota("User quota")
  assert_true(q[1].storage.limit > 0)
  typ, data, acl = M:getacl("INBOX")
  assert_true(acl.rights[USER]:find("l"), "owner rights")
  typ, data, r = M:myrights("INBOX")
  assert_true(r.rights:find("r"))
  assert_eq(M:setacl("INBOX", "friend", "lr"), "OK")
  assert_eq(M:deleteacl("INBOX", "friend"), "OK")
  typ, data, id = M:id({name = "mailscript"})
  assert_eq(id.name, "Dovecot")
  typ, data, enabled = M:enable("CONDSTORE")
  assert_eq(enabled[1], "CONDSTORE")
  typ, data, caps = M:capability()
  assert_true(#caps > 5)
  -- Dovecot offers no annotations: the BAD reply raises imap.error
  local err = assert_raises(imap.error, "error", function() return M:getannotation("INBOX", "/comment", "value.shared") end)
  assert_eq(err.command, "GETANNOTATION")
  M:logout()
end

function test_errors()
  local M = imap.IMAP4(SERVER.host, SERVER.imap)
  local err
  if not SERVER.slow_no then
    err = assert_raises(imap.error, "error", M.login, M, USER, "wrong")
    assert_eq(err.command, "LOGIN"); assert_eq(err.code, "AUTHENTICATIONFAILED")
    assert_true(tostring(err):find("^imap.error: "), tostring(err))
    assert_true(not imap.abort:is(err), "error is not abort")
  end
  err = assert_raises(imap.error, "error", M.select, M, "INBOX")
  assert_true(err.message:find("illegal in state NONAUTH"), err.message)
  assert_raises(imap.error, "error", M.create, M, "a\r\nb")
  err = assert_raises(imap.error, "error", imap.IMAP4, SERVER.host, 1)
  assert_eq(err.cause, "refused")
  M:login(USER, SERVER.password)
  local typ, data = M:select("NoSuchBox")
  assert_eq(typ, "NO"); assert_eq(M.state, "AUTH")
  -- a server that says BYE mid-command: abort
  local S = imap.IMAP4_stream([[printf '* PREAUTH [CAPABILITY IMAP4rev1] hi\r\n'; read l; printf '* BYE going away\r\n']])
  assert_eq(S.state, "AUTH")
  err = assert_raises(imap.abort, "abort", S.noop, S)
  assert_true(imap.error:is(err), "abort is an error")
  assert_true(err.message:find("going away"), err.message)
  assert_true(not imap.readonly:is(err), "abort is not readonly")
  M:logout()
end

function test_tls_starttls_authenticate()
  local M = imap.IMAP4_SSL(SERVER.host, SERVER.imaps, {ssl_context = {ca_file = SERVER.ca_file}})
  assert_eq(M:authenticate("PLAIN", {user = USER, password = SERVER.password}), "OK")
  M:logout()
  local err = assert_raises(imap.error, "error", imap.IMAP4_SSL, SERVER.host, SERVER.imaps)
  assert_eq(err.cause, "tls")
  M = imap.IMAP4{host = SERVER.host, port = SERVER.imap, timeout = 10}
  assert_eq(M:starttls{ca_file = SERVER.ca_file}, "OK")
  local step = 0
  local typ = M:authenticate("LOGIN", function(challenge)
    step = step + 1
    if step == 1 then return USER end
    return SERVER.password
  end)
  assert_eq(typ, "OK"); assert_eq(step, 2)
  M:logout()
  M = imap.IMAP4(SERVER.host, SERVER.imap)
  local cram = false
  for _, c in ipairs(M.capabilities) do cram = cram or c == "AUTH=CRAM-MD5" end
  if cram then assert_eq(M:login_cram_md5(USER, SERVER.password), "OK") end
  M.debug = 4
  assert_eq(M.debug, 4)
  M.debug = 0
  M:logout()
end

function test_idle_woken_by_append()
  local M = connect()
  M:select("INBOX")
  later(0.3, USER, "append")
  local got
  for typ, data in M:idle(10):iter() do
    if typ == "EXISTS" then got = data[1]; break end
  end
  assert_eq(got, "1", "EXISTS from the other connection")
  -- DONE is sent by the next command
  local typ, data, hits = M:search(nil, "ALL")
  assert_eq(#hits, 1)
  M:logout()
end

function test_idle_burst_and_callback()
  seed(USER, 5)
  local M = connect()
  M:select("INBOX")
  later(0.3, USER, "expunge3")
  local idler = M:idle(10)
  local batch = idler:burst(0.5)
  idler:done()
  local expunges = 0
  for _, r in ipairs(batch) do if r[1] == "EXPUNGE" then expunges = expunges + 1 end end
  assert_eq(expunges, 3, "burst collects the EXPUNGEs")
  later(0.2, USER, "append")
  local seen = 0
  M:idle(10, function(typ, data)
    seen = seen + 1
    return typ == "EXISTS"
  end)
  assert_true(seen >= 1, "callback called")
  assert_eq(M:noop(), "OK")
  M:logout()
end

function test_utilities()
  assert_eq(imap.Int2AP(0), "")
  assert_eq(imap.Int2AP(65535), "PPPP")
  assert_eq(#imap.ParseFlags('1 (FLAGS (\\Seen \\Answered))'), 2)
  assert_eq(imap.Internaldate2tuple("garbage"), nil)
  assert_eq(imap.Time2Internaldate('"01-Jan-2020 00:00:00 +0000"'), '"01-Jan-2020 00:00:00 +0000"')
  assert_true(imap.Time2Internaldate(os.date("*t")):find('^"%d%d%-%a%a%a%-%d%d%d%d'), "from a table")
  assert_eq(imap.IMAP4_PORT, 143); assert_eq(imap.IMAP4_SSL_PORT, 993)
  assert_true(imap.readonly:is({kind = "readonly"}) == false, "plain tables are not error objects")
end

function test_readonly_server()
  -- a server that opens every mailbox read-only: select() raises readonly
  local S = imap.IMAP4_stream([[printf '* PREAUTH [CAPABILITY IMAP4rev1] hi\r\n'; read l; t=${l%% *}; printf '* 1 EXISTS\r\n%s OK [READ-ONLY] done\r\n' "$t"; sleep 1]])
  local err = assert_raises(imap.readonly, "readonly", S.select, S, "INBOX")
  assert_true(imap.abort:is(err) and imap.error:is(err), "readonly is an abort and an error")
  assert_eq(err.code, "READ-ONLY")
  S:shutdown()
end

function test_remaining_methods()
  seed(USER, 3)
  local M = connect()
  M:select("INBOX")
  local typ, data = M:recent()
  assert_eq(typ, "OK")
  local sock = M:socket()
  assert_true(sock.remote:find("127.0.0.1"), "socket remote")
  assert_eq(sock.tls, false)
  -- raw access, as imaplib's send/readline/read
  M:send("RAW1 NOOP\r\n")
  local line = M:readline()
  assert_true(line:find("^RAW1 OK"), line)
  M:send("RAW2 NOOP\r\n")
  assert_eq(M:read(7), "RAW2 OK")
  M:readline()
  -- commands the server does not offer or refuses: imap.error with the
  -- command's name (a BAD reply), or NO (Courier answers unknown commands so)
  for name, call in pairs{
    PARTIAL = function() return M:partial("1", "BODY[]", 0, 10) end,
    PROXYAUTH = function() return M:proxyauth("other") end,
    SETANNOTATION = function() return M:setannotation("INBOX", '"/comment"', '("value.shared" "x")') end,
    XFOO = function() return M:xatom("XFOO", "bar") end,
  } do
    local ok, typ = pcall(call)
    if ok then
      assert_eq(typ, "NO", name .. " refused")
    else
      assert_true(imap.error:is(typ), name .. ": " .. tostring(typ))
      assert_eq(typ.command, name)
    end
  end
  local ok, err = pcall(M.setquota, M, "User quota", "(STORAGE 100)")
  assert_true(not ok or err == "NO", "SETQUOTA is refused without extra configuration")
  -- xatom with a command Dovecot knows
  typ = M:xatom("NOOP")
  assert_eq(typ, "OK")
  -- open() reconnects the same object
  M:open(SERVER.host, SERVER.imap)
  assert_eq(M.state, "NONAUTH")
  M:login(USER, SERVER.password)
  assert_eq(M:select("INBOX"), "OK")
  M:shutdown()
  assert_raises(imap.abort, "abort", M.noop, M)
end

-- UTF8=ACCEPT where offered (Courier; Cyrus and Dovecot here do not): an
-- 8-bit message appends and reads back whole, whichever form the server takes.
function test_utf8_append()
  local M = connect()
  local utf8 = false
  for _, c in ipairs(M.capabilities) do utf8 = utf8 or c == "UTF8=ACCEPT" end
  local msg = "Subject: caf\195\169\r\n\r\nh\195\169\r\n"
  if utf8 then assert_eq(M:enable("UTF8=ACCEPT"), "OK") end
  local typ = M:append("INBOX", nil, nil, msg)
  assert_eq(typ, "OK", "append")
  M:select("INBOX")
  local _, _, msgs = M:fetch("1", "(BODY.PEEK[])")
  -- Cyrus stores raw 8-bit header bytes as X
  assert_eq(msgs[1].body[""], SERVER.header_x and msg:gsub("caf\195\169", "cafXX") or msg)
  M:logout()
end
