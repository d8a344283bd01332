package stdlib

import (
	"bytes"
	"context"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"

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
