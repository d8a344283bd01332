package bindings

import (
	"testing"

	"github.com/mailscript/mailscript/protocol/imap"
	lua "github.com/yuin/gopher-lua"
)

// NIL reaches Lua as nil; an empty string stays "" (imaplib's None and ”).
func TestNStringNilInLua(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	e := &imap.Envelope{Subject: "", SubjectNil: false, DateNil: true,
		From: []imap.Address{{NameNil: true, Mailbox: "a", Host: "b", Address: "a@b"}}}
	et := envelopeTable(L, e)
	if v := et.RawGetString("date"); v != lua.LNil {
		t.Fatalf("NIL date is %v", v)
	}
	if v := et.RawGetString("subject"); v != lua.LString("") {
		t.Fatalf(`"" subject is %v`, v)
	}
	from := et.RawGetString("from").(*lua.LTable).RawGetInt(1).(*lua.LTable)
	if v := from.RawGetString("name"); v != lua.LNil {
		t.Fatalf("NIL name is %v", v)
	}
	if v := from.RawGetString("host"); v != lua.LString("b") {
		t.Fatalf("host is %v", v)
	}
	lt := listTable(L, []*imap.ListEntry{{DelimiterNil: true, Name: "INBOX"}, {Delimiter: "", Name: "x"}})
	if v := lt.RawGetInt(1).(*lua.LTable).RawGetString("delimiter"); v != lua.LNil {
		t.Fatalf("NIL delimiter is %v", v)
	}
	if v := lt.RawGetInt(2).(*lua.LTable).RawGetString("delimiter"); v != lua.LString("") {
		t.Fatalf(`"" delimiter is %v`, v)
	}
}
