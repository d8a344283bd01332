package bindings_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/internal/mailgen"
	"github.com/mailscript/mailscript/internal/servers"
	"github.com/mailscript/mailscript/protocol/imap"
	"github.com/mailscript/mailscript/runtime"
	"github.com/mailscript/mailscript/stdlib"
)

// Lua tests: each testdata/*_test.lua file runs in one session; each of
// its global test_* functions is a subtest, with USER set to a user of its
// own. The files of matrixFiles run on every server of servers.All (the
// global SERVER says which, and what differs: see luaServer); the others
// on Dovecot only.

func TestMain(m *testing.M) { servers.Main(m) }

// matrixFiles are the Lua test files that are server-neutral.
var matrixFiles = map[string]bool{"account_test.lua": true, "rules_test.lua": true, "imap_test.lua": true, "pop3_test.lua": true, "fidelity_test.lua": true}

func TestLua(t *testing.T) {
	files, _ := filepath.Glob("testdata/*_test.lua")
	if len(files) == 0 {
		t.Fatal("no Lua test files")
	}
	assertLib, err := os.ReadFile("testdata/assert.lua")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		file := file
		t.Run(strings.TrimSuffix(filepath.Base(file), ".lua"), func(t *testing.T) {
			t.Parallel()
			if !matrixFiles[filepath.Base(file)] {
				runLuaFile(t, servers.Get(t, "dovecot"), file, string(assertLib))
				return
			}
			servers.Each(t, func(t *testing.T, srv *servers.Server) {
				runLuaFile(t, srv, file, string(assertLib))
			})
		})
	}
}

// luaServer is SERVER (also DOVECOT, its old name): where to connect and
// the server's quirks as data.
func luaServer(L *lua.LState, srv *servers.Server) *lua.LTable {
	env := L.NewTable()
	env.RawSetString("name", lua.LString(srv.Name))
	env.RawSetString("host", lua.LString("127.0.0.1"))
	for k, v := range map[string]int{"imap": srv.IMAP, "imaps": srv.IMAPS, "pop3": srv.POP3, "pop3s": srv.POP3S} {
		env.RawSetString(k, lua.LNumber(v))
	}
	env.RawSetString("password", lua.LString(srv.Password))
	env.RawSetString("ca_file", lua.LString(srv.CAFile))
	env.RawSetString("prefix", lua.LString(srv.Prefix))
	env.RawSetString("sep", lua.LString(srv.Sep))
	env.RawSetString("move", lua.LBool(srv.Move))
	env.RawSetString("special_use", lua.LBool(srv.SpecialUse))
	env.RawSetString("uidnext", lua.LBool(srv.UIDNext))
	env.RawSetString("esearch", lua.LBool(srv.ESearch))
	env.RawSetString("header_x", lua.LBool(srv.HeaderX))
	env.RawSetString("greeting", lua.LString(srv.Greeting))
	env.RawSetString("slow_no", lua.LBool(srv.SlowNo))
	env.RawSetString("no_dot", lua.LBool(srv.NoDot))
	return env
}

func runLuaFile(t *testing.T, srv *servers.Server, file, assertLib string) {
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	rt := runtime.New(runtime.Options{Timeout: 20 * time.Second, Stdout: testWriter{t}, Stderr: testWriter{t},
		State: stdlib.FileStore{Dir: t.TempDir()}})
	s := rt.NewSession()
	defer s.Close()
	L := s.State()
	env := luaServer(L, srv)
	L.SetGlobal("SERVER", env)
	L.SetGlobal("DOVECOT", env)
	// folder("a/b") is the server's name of a folder
	L.SetGlobal("folder", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(srv.Folder(L.CheckString(1))))
		return 1
	}))
	L.SetGlobal("scripted", L.NewFunction(scripted))
	L.SetGlobal("seed", L.NewFunction(func(L *lua.LState) int {
		g := mailgen.New(9)
		msgs := make([]mailgen.Message, L.CheckInt(2))
		for i := range msgs {
			msgs[i] = g.Message(i)
		}
		srv.Seed(luaTB{t, L}, L.CheckString(1), L.OptString(3, ""), msgs)
		raws := L.NewTable()
		for _, m := range msgs {
			raws.Append(lua.LString(srv.Stored(m.Raw)))
		}
		L.Push(raws)
		return 1
	}))
	// later(seconds, user, action): another connection acts after a delay,
	// while the script waits (IDLE).
	L.SetGlobal("later", L.NewFunction(func(L *lua.LState) int {
		delay := time.Duration(float64(L.CheckNumber(1)) * float64(time.Second))
		user, action := L.CheckString(2), L.CheckString(3)
		go func() {
			time.Sleep(delay)
			ctx := context.Background()
			c, err := imap.Dial(ctx, servers.Addr(srv.IMAP), &imap.Options{Timeout: 10 * time.Second})
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Logout(ctx)
			c.Login(ctx, user, srv.Password)
			switch action {
			case "append":
				c.Append(ctx, "INBOX", "", "", []byte("Subject: later\r\n\r\nhi\r\n"))
			case "expunge3":
				c.Select(ctx, "INBOX", false)
				c.Store(ctx, "1:3", "+FLAGS.SILENT", `\Deleted`, false)
				c.Expunge(ctx)
			}
		}()
		return 0
	}))
	if err := s.Eval(context.Background(), "assert.lua", assertLib); err != nil {
		t.Fatal(err)
	}
	if err := s.Eval(context.Background(), filepath.Base(file), string(src)); err != nil {
		t.Fatal(err)
	}
	var names []string
	L.G.Global.ForEach(func(k, v lua.LValue) {
		if n := lua.LVAsString(k); strings.HasPrefix(n, "test_") {
			if _, ok := v.(*lua.LFunction); ok {
				names = append(names, n)
			}
		}
	})
	sort.Strings(names)
	prefix := strings.TrimSuffix(filepath.Base(file), "_test.lua")
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			user := srv.User(t, prefix+"-"+name)
			for _, more := range []string{"-other", "-pop"} {
				srv.User(t, user+more)
			}
			L.SetGlobal("USER", lua.LString(user))
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := s.Eval(ctx, name, name+"()"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// luaTB raises a failure as a Lua error, in the goroutine of the Lua call.
type luaTB struct {
	testing.TB
	L *lua.LState
}

func (l luaTB) Fatal(args ...any)                 { l.L.RaiseError("%s", fmt.Sprint(args...)) }
func (l luaTB) Fatalf(format string, args ...any) { l.L.RaiseError(format, args...) }

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
