-- The pop3 module on every server (SERVER): poplib's results.
local pop3 = require("pop3")

function test_retrieve()
  local raws = seed(USER, 4)
  local P = pop3.POP3(SERVER.host, SERVER.pop3)
  assert_true(P:getwelcome():find("^%+OK"), "welcome")
  assert_true(P:user(USER):find("^%+OK"))
  assert_true(P:pass_(SERVER.password):find("^%+OK"))
  local count, size = P:stat()
  assert_eq(count, 4)
  local resp, lines, octets, parsed = P:list()
  assert_eq(#lines, 4); assert_eq(parsed[2].num, 2); assert_eq(parsed[2].size, #raws[2])
  assert_true(P:list(1):find("^%+OK 1 "), "list(1)")
  resp, lines, octets = P:retr(1)
  assert_eq(table.concat(lines, "\r\n") .. "\r\n", raws[1], "retr lines")
  assert_eq(octets, #raws[1])
  resp, lines = P:top(2, 0)
  assert_true(#lines > 3)
  local _, _, _, uids = P:uidl()
  assert_eq(#uids, 4)
  assert_true(P:uidl(1):find(uids[1].uid, 1, true), "uidl(1)")
  P:dele(1); P:rset(); P:dele(4)
  assert_true(P:noop():find("^%+OK"))
  local caps = P:capa()
  assert_true(caps.UIDL ~= nil, "capa")
  P:quit()
  P = pop3.POP3_SSL(SERVER.host, SERVER.pop3s, {ssl_context = {ca_file = SERVER.ca_file}})
  P:user(USER); P:pass(SERVER.password)
  count = P:stat()
  assert_eq(count, 3, "DELE + QUIT deleted one, RSET kept the other")
  P:quit()
end

function test_errors_and_auth()
  local P = pop3.POP3(SERVER.host, SERVER.pop3)
  local err
  if not SERVER.slow_no then
    P:user(USER)
    err = assert_raises(pop3.error_proto, "error_proto", P.pass_, P, "wrong")
    assert_true(err.message:find("^%-ERR"), err.message)
    assert_eq(err.command, "PASS"); assert_eq(err.code, "AUTH")   -- Dovecot: -ERR [AUTH] ...
    assert_true(not tostring(err):find("wrong"), "no password in the error")
  end
  assert_raises(pop3.error_proto, "error_proto", P.user, P, "a\r\nb")
  assert_raises(pop3.error_proto, "error_proto", P.apop, P, USER, "x")
  err = assert_raises(pop3.error_proto, "error_proto", pop3.POP3, SERVER.host, 1)
  assert_eq(err.cause, "refused")
  assert_true(P:stls{ca_file = SERVER.ca_file}:find("^%+OK"))
  assert_true(P:auth("PLAIN", {user = USER, password = SERVER.password}):find("^%+OK"))
  P:quit()
end

function test_remaining_methods()
  seed(USER, 1)
  local P = pop3.POP3{host = SERVER.host, port = SERVER.pop3, timeout = 10}
  P:set_debuglevel(0)
  -- RPOP is long gone from servers: the -ERR raises error_proto
  assert_raises(pop3.error_proto, "error_proto", P.rpop, P, USER)
  P:USER(USER); P:PASS_(SERVER.password)
  local ok, resp = pcall(P.utf8, P)
  assert_true(ok or pop3.error_proto:is(resp), "utf8 answers or raises error_proto")
  assert_eq(P:stat(), 1)
  P:close()
  assert_raises(pop3.error_proto, "error_proto", P.stat, P)
end
