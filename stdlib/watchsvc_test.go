package stdlib

import (
	"testing"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/bindings"
	"github.com/mailscript/mailscript/protocol/imap"
)

// A handler that failed because the connection did (imaplib's abort)
// does not count against its message; any other error does.
func TestLostConnectionIsNotTheMessagesFault(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	raise := func(err error) error {
		return protect(L, func(L *lua.LState) int { bindings.Raise(L, err); return 0 })
	}
	if err := raise(&imap.Error{Kind: imap.KindAbort, Command: "UID STORE", Text: "socket error: EOF"}); !lostConnection(err) {
		t.Fatalf("an abort: %v", err)
	}
	if err := raise(&imap.Error{Kind: imap.KindError, Command: "UID MOVE", Text: "no such mailbox"}); lostConnection(err) {
		t.Fatalf("a NO: %v", err)
	}
	if err := protect(L, func(L *lua.LState) int { L.RaiseError("handler broke"); return 0 }); lostConnection(err) {
		t.Fatalf("a script error: %v", err)
	}
}
