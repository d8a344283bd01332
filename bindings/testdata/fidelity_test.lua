-- imaplib fidelity: IDLE deadlines mid-line, burst(), open() keeping the
-- transport, login_plain. Scripted servers check the exact bytes sent.
local imap = require("imap")

local greeting = "> * OK [CAPABILITY IMAP4rev1 IDLE AUTH=PLAIN] ready\r\n"

-- CPython's test_idle_delayed_packet: a line spread over packets, its end
-- after the duration: iteration ends at the deadline, and the line is
-- finished after DONE, into the untagged store.
function test_idle_delayed_packet()
  local host, port, check = scripted{
    greeting, '< LOGIN user "pass"', "= OK [CAPABILITY IMAP4rev1 IDLE] done",
    "< IDLE", "> + idling\r\n", "> * 1 EX", "~ 0.2", "> IS", "~ 1", "> TS\r\n",
    "< DONE", "= OK Idle completed",
  }
  local M = imap.IMAP4(host, port)
  M:login("user", "pass")
  local idler = M:idle(0.5)
  local typ = idler:iter()()
  assert_eq(typ, nil, "nothing yielded by the deadline")
  idler:done()
  local _, data = M:response("EXISTS")
  assert_eq(data[1], "1", "the EXISTS finished after DONE")
  assert(check())
end

-- burst(interval) waits only the interval between responses, past the
-- duration (CPython's Idler.burst).
function test_burst_waits_the_interval_not_the_duration()
  local host, port, check = scripted{
    greeting, '< LOGIN user "pass"', "= OK [CAPABILITY IMAP4rev1 IDLE] done",
    "< IDLE", "> + idling\r\n", "> * 1 EXISTS\r\n", "~ 0.5", "> * 2 EXISTS\r\n",
    "< DONE", "= OK Idle completed",
  }
  local M = imap.IMAP4(host, port)
  M:login("user", "pass")
  local idler = M:idle(0.2)
  local batch = idler:burst(1.5)
  idler:done()
  assert_eq(#batch, 2, "both EXISTS")
  assert_eq(batch[2][2][1], "2")
  assert(check())
end

function test_login_plain()
  local host, port, check = scripted{
    greeting, "< AUTHENTICATE PLAIN", "> + \r\n", "< YWRtaW4AdXNlcgBwYXNz", "= OK [CAPABILITY IMAP4rev1 IDLE] welcome",
    "< LOGOUT", "> * BYE bye\r\n", "= OK done",
  }
  local M = imap.IMAP4(host, port)
  local typ = M:login_plain("user", "pass", "admin")
  assert_eq(typ, "OK")
  assert_eq(M.state, "AUTH")
  M:logout()
  assert(check())
  -- a refusal raises, as login does
  host, port, check = scripted{greeting, "< AUTHENTICATE PLAIN", "> + \r\n", "< AHVzZXIAcGFzcw==", "= NO go away"}
  M = imap.IMAP4(host, port)
  assert_raises(imap.error, "error", M.login_plain, M, "user", "pass")
  assert(check())
end

function test_login_plain_dovecot()
  local M = imap.IMAP4(SERVER.host, SERVER.imap)
  local typ = M:login_plain(USER, SERVER.password)
  assert_eq(typ, "OK")
  assert_eq(M.state, "AUTH")
  M:logout()
end

-- open() on an IMAP4_SSL object dials TLS again, with its ssl_context:
-- plain TCP would send the password in clear (and hang on a TLS port).
function test_open_keeps_tls()
  local M = imap.IMAP4_SSL(SERVER.host, SERVER.imaps, {timeout = 5, ssl_context = {ca_file = SERVER.ca_file}})
  M:logout()
  M:open(SERVER.host, SERVER.imaps, 5)
  assert_true(M:socket().tls, "TLS after open()")
  assert_eq(M:login(USER, SERVER.password), "OK")
  M:logout()
end

-- open() on an IMAP4_stream object runs its command again.
function test_open_stream_runs_its_command()
  local S = imap.IMAP4_stream([[printf '* PREAUTH [CAPABILITY IMAP4rev1] hello\r\n'; read l]])
  S:shutdown()
  S:open()
  assert_eq(S.state, "AUTH")
  assert_true(S.welcome:find("hello"), S.welcome)
  S:shutdown()
end
