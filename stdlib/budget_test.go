package stdlib

import (
	"bytes"
	"context"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/bindings"
	"github.com/mailscript/mailscript/internal/limit"
	"github.com/mailscript/mailscript/protocol/imap"
)

// A message's raw body and header become Lua strings charged to the
// run's budget: reading msg.raw of a 3 MiB message fails a 2 MiB budget.
func TestMessageBodyCharged(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	L.SetContext(limit.NewContext(context.Background(), limit.NewBudget(2<<20, nil, nil)))
	raw := append([]byte("Subject: x\r\n\r\n"), bytes.Repeat([]byte("x"), 3<<20)...)
	L.SetGlobal("msg", messageTable(L, &imap.FetchMessage{Seq: 1, UID: 1, Size: int64(len(raw)), Body: map[string][]byte{"": raw}}))
	if err := L.DoString(`assert(msg.headers == "Subject: x\r\n\r\n")`); err != nil {
		t.Fatalf("the header: %v", err)
	}
	err := L.DoString(`local r = msg.raw`)
	if err == nil || !strings.Contains(err.Error(), "memory limit of 2 MiB exceeded") {
		t.Fatalf("got %v, want the memory limit", err)
	}
}

// re.replace charges its result first: an empty pattern puts repl between
// every two bytes, and $0 repeats the match.
func TestReReplaceCharged(t *testing.T) {
	for _, script := range []string{
		`return re.replace("", string.rep("x", 1000), string.rep("y", 10000))`,
		`return re.replace("x+", string.rep("x", 100000), string.rep("$0", 50))`,
	} {
		L := lua.NewState()
		L.SetContext(limit.NewContext(context.Background(), limit.NewBudget(4<<20, nil, nil)))
		L.PreloadModule("re", openRe)
		err := L.DoString(`local re = require("re")` + "\n" + script)
		L.Close()
		if err == nil || !strings.Contains(err.Error(), "memory limit of 4 MiB exceeded") {
			t.Errorf("%s: got %v, want the memory limit", script, err)
		}
	}
	L := lua.NewState()
	defer L.Close()
	L.SetContext(limit.NewContext(context.Background(), limit.NewBudget(4<<20, nil, nil)))
	L.PreloadModule("re", openRe)
	if err := L.DoString(`assert(require("re").replace("(b+)", "abbc", "<$1$$>") == "a<bb$>c")`); err != nil {
		t.Fatal(err)
	}
}

// script:test charges the parsed copy of the message: a 3 MiB message fails a 2 MiB budget.
func TestSieveTestCharged(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	L.SetContext(limit.NewContext(context.Background(), limit.NewBudget(2<<20, nil, nil)))
	L.PreloadModule("sieve", func(L *lua.LState) int { return openSieve(L, &bindings.Env{}, &MemStore{}) })
	L.SetGlobal("big", lua.LString("Subject: x\r\n\r\n"+strings.Repeat("x", 3<<20)))
	src := `local s = require("sieve").compile("keep;")
assert(#s:test("Subject: x\r\n\r\nbody\r\n").actions == 1)
s:test(big)`
	err := L.DoString(src)
	if err == nil || !strings.Contains(err.Error(), "memory limit of 2 MiB exceeded") {
		t.Fatalf("got %v, want the memory limit", err)
	}
}
