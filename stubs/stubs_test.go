package stubs_test

import (
	"context"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/runtime"
	"github.com/mailscript/mailscript/stubs"
)

func stub(t *testing.T, file string) string {
	t.Helper()
	b, err := stubs.FS.ReadFile(file)
	if err != nil {
		t.Fatalf("no stub file %s", file)
	}
	return string(b)
}

// functions lists the function-valued fields of t.
func functions(t *lua.LTable) []string {
	var out []string
	t.ForEach(func(k, v lua.LValue) {
		if _, ok := v.(*lua.LFunction); ok {
			out = append(out, lua.LVAsString(k))
		}
	})
	sort.Strings(out)
	return out
}

// sourceMethods reads the method names of a Go map literal of methods
// whose __index is a function Lua cannot list.
func sourceMethods(t *testing.T, file, start string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	i := strings.Index(src, start)
	if i < 0 {
		t.Fatalf("%s: no %q", file, start)
	}
	body := src[i:]
	body = body[:strings.Index(body, "\n\t}\n")]
	var out []string
	for _, m := range regexp.MustCompile(`"([a-z_0-9]+)":`).FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	if len(out) < 3 {
		t.Fatalf("%s: only %q", file, out)
	}
	return out
}

func has(src, decl string) bool {
	return regexp.MustCompile(`(?m)^function ` + regexp.QuoteMeta(decl) + `\(`).MatchString(src)
}

func TestStubsNameEveryExport(t *testing.T) {
	sess := runtime.New(runtime.Options{}).NewSession()
	defer sess.Close()
	L := sess.State()
	for _, mod := range []string{"imap", "pop3", "mail", "account", "rules", "state", "re", "json", "log", "time", "pipe", "sieve"} {
		if err := sess.Eval(context.Background(), "t", "_m = require('"+mod+"')"); err != nil {
			t.Fatal(err)
		}
		src := stub(t, mod+".lua")
		fns := functions(L.GetGlobal("_m").(*lua.LTable))
		if len(fns) == 0 {
			t.Fatalf("%s exports no functions?", mod)
		}
		for _, fn := range fns {
			if !has(src, mod+"."+fn) {
				t.Errorf("stubs/%s.lua lacks function %s.%s", mod, mod, fn)
			}
		}
	}
	// methods of the account module's types (tables Lua can list)
	for _, c := range []struct{ typ, file, class string }{
		{"account.Account", "account.lua", "Account"}, {"account.Mailbox", "account.lua", "Mailbox"}, {"account.Set", "account.lua", "Set"},
		{"account.POP3", "account.lua", "POP3"}, {"sieve.Script", "sieve.lua", "Script"},
	} {
		mt, ok := L.GetTypeMetatable(c.typ).(*lua.LTable)
		if !ok {
			t.Fatalf("no metatable %s", c.typ)
		}
		src := stub(t, c.file)
		methods, ok := mt.RawGetString("__index").(*lua.LTable)
		if !ok {
			methods = mt.RawGetString("__methods").(*lua.LTable)
		}
		for _, fn := range functions(methods) {
			if !has(src, c.class+":"+fn) {
				t.Errorf("stubs/%s lacks %s:%s", c.file, c.class, fn)
			}
		}
	}
	// a parsed message's methods
	if err := sess.Eval(context.Background(), "t", `_m = require("mail").parse("Subject: x\r\n\r\nbody\r\n")`); err != nil {
		t.Fatal(err)
	}
	for _, fn := range functions(L.GetGlobal("_m").(*lua.LTable)) {
		if !has(stub(t, "mail.lua"), "Message:"+fn) {
			t.Errorf("stubs/mail.lua lacks Message:%s", fn)
		}
	}
	// the connection types, whose __index is a function: their method maps
	for _, c := range []struct{ gofile, start, file, class string }{
		{"../bindings/imap.go", "imapMethods = map", "imap.lua", "IMAP4"},
		{"../bindings/pop3.go", "pop3Methods = map", "pop3.lua", "POP3"},
		{"../bindings/idle.go", "NewTypeMetatable(idlerType)", "imap.lua", "Idler"},
	} {
		src := stub(t, c.file)
		for _, fn := range sourceMethods(t, c.gofile, c.start) {
			if !has(src, c.class+":"+fn) {
				t.Errorf("stubs/%s lacks %s:%s", c.file, c.class, fn)
			}
		}
	}
	// globals beyond Lua's own
	plain := lua.NewState()
	defer plain.Close()
	globals := stub(t, "globals.lua")
	L.G.Global.ForEach(func(k, v lua.LValue) {
		if _, ok := v.(*lua.LFunction); ok && plain.GetGlobal(lua.LVAsString(k)) == lua.LNil && !has(globals, lua.LVAsString(k)) {
			t.Errorf("stubs/globals.lua lacks function %s", lua.LVAsString(k))
		}
	})
}

func TestStubsAreMeta(t *testing.T) {
	names, _ := stubs.FS.ReadDir(".")
	for _, n := range names {
		if !strings.HasSuffix(n.Name(), ".lua") {
			continue
		}
		if !strings.HasPrefix(stub(t, n.Name()), "---@meta") {
			t.Errorf("%s does not start with ---@meta (LuaLS would load it as code)", n.Name())
		}
	}
}
