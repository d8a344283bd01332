-- re, json, log, time.
local re, json, time = require("re"), require("json"), require("time")

function test_re()
  assert_true(re.match("^golang-(nuts|dev)", "golang-nuts.googlegroups.com"))
  assert_true(not re.match("^x", "abc"))
  local all, user, host = re.find("([a-z.]+)@([a-z.]+)", "mail bob@example.org now")
  assert_eq(all, "bob@example.org"); assert_eq(user, "bob"); assert_eq(host, "example.org")
  assert_eq(re.find("z", "abc"), nil)
  assert_eq(#re.find_all("%d+", "a1b22c333"), 0, "Lua patterns are not RE2")
  assert_eq(#re.find_all("[0-9]+", "a1b22c333"), 3)
  assert_eq(re.replace("(\\w+)@", "bob@x", "<$1>@"), "<bob>@x")
  assert_eq(#re.split("\\s*,\\s*", "a , b,c"), 3)
  assert_eq(re.quote("a.b"), "a\\.b")
  local ok = pcall(re.match, "(", "x")
  assert_true(not ok, "bad pattern raises")
end

function test_json()
  local s = json.encode({b = 1, a = {1, 2, "x"}, c = true})
  assert_eq(s, '{"a":[1,2,"x"],"b":1,"c":true}')
  local v = json.decode('{"n": null, "list": [1, {"k": "v"}], "s": "é"}')
  assert_eq(v.n, nil); assert_eq(v.list[2].k, "v"); assert_eq(v.s, "é")
  local bad, err = json.decode("{")
  assert_eq(bad, nil); assert_true(err:find("json.decode"), err)
  local t = {}; t.self = t
  assert_true(not pcall(json.encode, t), "a cycle raises")
end

function test_time_and_log()
  assert_eq(time.age("90d"), 90 * 86400); assert_eq(time.age("12h"), 43200); assert_eq(time.age("2w"), 14 * 86400)
  assert_true(not pcall(time.age, "soon"), "bad age raises")
  assert_eq(time.imap_date(1709632800), "5-Mar-2024")
  assert_true(time.internaldate(0):find('^"%d%d%-%a%a%a%-19[67]%d %d%d:%d%d:%d%d [+-]%d%d%d%d"$'), time.internaldate(0))
  assert_true(math.abs(time.ago("1d") - (os.time() - 86400)) < 5)
  require("log").info("helpers", "ok", 1)
end

function test_pipe()
  local pipe = require("pipe")
  local status, out = pipe.to("wc -l", "a\nb\nc\n")
  assert_eq(status, 0); assert_eq(out:match("%d+"), "3")
  status = pipe.to("exit 3", "")
  assert_eq(status, 3)
  assert_eq(pipe.from("printf 'x\\ny\\n'"), "x\ny")
end
