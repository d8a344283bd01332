-- The mail module: parse and build messages.
local mail = require("mail")

local sample = table.concat({
  "From: =?ISO-8859-1?Q?Fran=E7ois_Dubois?= <francois@example.fr>",
  "To: Bob <bob@example.org>, \"Müller, Jörg\" <jm@example.de>",
  "Subject: =?KOI8-R?B?8NLJ18XU?= and =?UTF-8?Q?caf=C3=A9?=",
  "Date: Mon, 01 Jan 2024 08:00:00 +0000",
  "Message-ID: <1@example.fr>",
  "List-Id: golang-nuts <golang-nuts.googlegroups.com>",
  "MIME-Version: 1.0",
  'Content-Type: multipart/mixed; boundary="b1"',
  "",
  "--b1",
  'Content-Type: multipart/alternative; boundary="b2"',
  "",
  "--b2",
  "Content-Type: text/plain; charset=iso-8859-1",
  "Content-Transfer-Encoding: quoted-printable",
  "",
  "Bonjour, =E7a va?",
  "--b2",
  "Content-Type: text/html; charset=utf-8",
  "",
  "<p>Bonjour &amp; <b>salut</b></p>",
  "--b2--",
  "--b1",
  'Content-Type: application/pdf; name="=?UTF-8?Q?=C3=9Cbersicht.pdf?="',
  'Content-Disposition: attachment; filename="=?UTF-8?Q?=C3=9Cbersicht.pdf?="',
  "Content-Transfer-Encoding: base64",
  "",
  "JVBERi0xLjQK",
  "--b1--",
  "",
}, "\r\n")

function test_parse()
  local m = mail.parse(sample)
  assert_eq(m.subject, "Привет and café")
  assert_eq(m.from[1].name, "François Dubois"); assert_eq(m.from[1].address, "francois@example.fr")
  assert_eq(#m.to, 2); assert_eq(m.to[2].name, "Müller, Jörg")
  assert_eq(m.date, 1704096000)
  assert_eq(m.message_id, "<1@example.fr>")
  assert_eq(m:header("list-id"), "golang-nuts <golang-nuts.googlegroups.com>")
  assert_eq(m.headers["list-id"][1], "golang-nuts <golang-nuts.googlegroups.com>")
  assert_eq(m:text(), "Bonjour, ça va?")
  assert_eq(m:html(), "<p>Bonjour &amp; <b>salut</b></p>")
  local atts = m:attachments()
  assert_eq(#atts, 1)
  assert_eq(atts[1].filename, "Übersicht.pdf"); assert_eq(atts[1].body, "%PDF-1.4\n"); assert_eq(atts[1].content_type, "application/pdf")
  assert_eq(#m:parts(), 3)
  local bad, err = mail.parse("not a message")
  assert_eq(bad, nil); assert_true(err:find("mail.parse"), err)
end

function test_new_round_trip()
  local raw = mail.new{from = "Zoë <zoe@example.com>", to = {"a@example.org", "B <b@example.org>"},
    subject = "Grüße", text = "line 1\nline 2 é\n", html = "<p>hi</p>",
    attachments = {{filename = "notes.txt", data = "x=1\n"}}, date = 1704096000,
    headers = {["X-Mailer"] = "mailscript"}}
  assert_true(not raw:find("[^\r]\n"), "CRLF line endings only")
  local m = mail.parse(raw)
  assert_eq(m.subject, "Grüße"); assert_eq(m.from[1].name, "Zoë"); assert_eq(#m.to, 2)
  assert_eq(m.date, 1704096000); assert_eq(m:header("X-Mailer"), "mailscript")
  assert_eq(m:text(), "line 1\r\nline 2 é\r\n"); assert_eq(m:html(), "<p>hi</p>")
  assert_eq(m:attachments()[1].body, "x=1\n"); assert_eq(m:attachments()[1].content_type, "text/plain")
  local ok = pcall(mail.new, {from = "x@y", headers = {["X-Bad"] = "a\r\nBcc: evil@x"}})
  assert_true(not ok, "header injection refused")
  assert_eq(mail.decode_header("=?UTF-8?B?w7w=?="), "ü")
  assert_eq(mail.parse_addresses("a@b, C <c@d>")[2].name, "C")
  assert_eq(mail.parse_date("Mon, 01 Jan 2024 08:00:00 +0000"), 1704096000)
  assert_true(mail.format_date(0):find("1970"), "format_date")
end
