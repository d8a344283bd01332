package bindings_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/internal/dovecot"
	"github.com/mailscript/mailscript/internal/mailgen"
	"github.com/mailscript/mailscript/protocol/imap"
	"github.com/mailscript/mailscript/runtime"
	"github.com/mailscript/mailscript/stdlib"
)

// Lua tests: each testdata/*_test.lua file runs in one session; each of
// its global test_* functions is a subtest, with USER set to a Dovecot
// user of its own.

func TestMain(m *testing.M) { dovecot.Main(m) }

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
			runLuaFile(t, file, string(assertLib))
		})
	}
}

func runLuaFile(t *testing.T, file, assertLib string) {
	srv := dovecot.Shared(t)
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	rt := runtime.New(runtime.Options{Timeout: 20 * time.Second, Stdout: testWriter{t}, Stderr: testWriter{t},
		State: stdlib.FileStore{Dir: t.TempDir()}})
	s := rt.NewSession()
	defer s.Close()
	L := s.State()
	env := L.NewTable()
	env.RawSetString("host", lua.LString("127.0.0.1"))
	for k, v := range map[string]int{"imap": srv.IMAP, "imaps": srv.IMAPS, "pop3": srv.POP3, "pop3s": srv.POP3S} {
		env.RawSetString(k, lua.LNumber(v))
	}
	env.RawSetString("password", lua.LString(dovecot.Password))
	env.RawSetString("ca_file", lua.LString(srv.CAFile))
	L.SetGlobal("DOVECOT", env)
	L.SetGlobal("scripted", L.NewFunction(scripted))
	L.SetGlobal("seed", L.NewFunction(func(L *lua.LState) int {
		md, err := srv.Maildir(L.CheckString(1))
		if err != nil {
			L.RaiseError("%v", err)
		}
		msgs, err := mailgen.New(9).WriteMaildir(md, 0, L.CheckInt(2), srv.Chown)
		if err != nil {
			L.RaiseError("%v", err)
		}
		raws := L.NewTable()
		for _, m := range msgs {
			raws.Append(lua.LString(m.Raw))
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
			c, err := imap.Dial(ctx, dovecot.Addr(srv.IMAP), &imap.Options{Timeout: 10 * time.Second})
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Logout(ctx)
			c.Login(ctx, user, dovecot.Password)
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
			L.SetGlobal("USER", lua.LString(prefix+"-"+name))
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := s.Eval(ctx, name, name+"()"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
