package stdlib

import (
	"bytes"
	"net/mail"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/bindings"
	"github.com/mailscript/mailscript/protocol/imap"
)

// batchSize UIDs are fetched per command; memory stays O(batch) on any
// mailbox size.
const batchSize = 200

// batch is one UID FETCH, read by a goroutine while the script works on
// the previous batch.
type batch struct {
	done chan struct{}
	msgs []*imap.FetchMessage
	err  error
}

var itemNames = map[string]string{
	"envelope": "ENVELOPE", "flags": "FLAGS", "size": "RFC822.SIZE", "date": "INTERNALDATE",
	"headers": "BODY.PEEK[HEADER]", "body": "BODY.PEEK[]", "bodystructure": "BODYSTRUCTURE",
}

// fetch starts a batch; the caller must wait() before using the
// connection otherwise.
func (a *account) fetch(L *lua.LState, uids []uint32, items string) *batch {
	b := &batch{done: make(chan struct{})}
	a.inflight = b
	ctx := bindings.Ctx(L)
	sets := chunks(uids)
	go func() {
		defer close(b.done)
		var cmds []*imap.Command
		for _, s := range sets {
			cmd := &imap.Command{Name: "UID FETCH", Args: []imap.Arg{imap.Set(s), imap.Raw(items)}}
			cmd.OnUntagged = func(r *imap.Response) {
				if r.Type != "FETCH" || b.err != nil {
					return
				}
				m, err := imap.DecodeFetch(r, 0)
				if err != nil {
					b.err = err
					return
				}
				if m.UID != 0 {
					b.msgs = append(b.msgs, m)
				}
			}
			cmds = append(cmds, cmd)
		}
		if err := a.c.Execute(ctx, cmds...); err != nil {
			b.err = err
			return
		}
		if c := firstErr(cmds); c != nil && b.err == nil {
			b.err = c.Err()
		}
	}()
	return b
}

// mbMessages is mbox:messages(set [, items]): an iterator over message
// tables, fetched in batches, the next batch asked for before the script
// has finished the current one.
func mbMessages(L *lua.LState) int {
	m := checkMailbox(L, 1)
	var uids []uint32
	if ud, ok := L.Get(2).(*lua.LUserData); ok {
		s, ok := ud.Value.(*set)
		if !ok || s.mbox.server != m.server || s.mbox.a != m.a {
			L.ArgError(2, "a set of this mailbox expected")
		}
		uids = s.uids
	} else {
		L.ArgError(2, "a message set expected")
	}
	want := []string{"UID"}
	seen := map[string]bool{}
	list := []string{"envelope", "flags", "size"}
	if t, ok := L.Get(3).(*lua.LTable); ok {
		list = nil
		t.ForEach(func(_, v lua.LValue) { list = append(list, strings.ToLower(lua.LVAsString(v))) })
	}
	for _, it := range list {
		n, ok := itemNames[it]
		if !ok {
			L.ArgError(3, "unknown item "+it+" (envelope, flags, size, date, headers, body, bodystructure)")
		}
		if !seen[n] {
			seen[n] = true
			want = append(want, n)
		}
	}
	items := "(" + strings.Join(want, " ") + ")"
	a := m.a
	m.open(L, false)
	pos := 0
	var cur []*imap.FetchMessage
	var next *batch
	start := func() {
		if pos < len(uids) {
			end := min(pos+batchSize, len(uids))
			next = a.fetch(L, uids[pos:end], items)
			pos = end
		} else {
			next = nil
		}
	}
	start()
	L.Push(L.NewFunction(func(L *lua.LState) int {
		for len(cur) == 0 {
			if next == nil {
				L.Push(lua.LNil)
				return 1
			}
			b := next
			<-b.done
			a.inflight = nil
			if b.err != nil {
				bindings.Raise(L, b.err)
			}
			cur = b.msgs
			// the connection must be ours when the script acts on a
			// message; prefetch only when it has not been used since
			start()
		}
		msg := cur[0]
		cur = cur[1:]
		L.Push(messageTable(L, msg))
		return 1
	}))
	return 1
}

func messageTable(L *lua.LState, m *imap.FetchMessage) *lua.LTable {
	t := L.CreateTable(0, 12)
	t.RawSetString("uid", lua.LNumber(m.UID))
	t.RawSetString("seq", lua.LNumber(m.Seq))
	if m.HasFlags {
		fl := L.CreateTable(len(m.Flags), 0)
		set := L.CreateTable(0, len(m.Flags))
		for _, f := range m.Flags {
			fl.Append(lua.LString(f))
			set.RawSetString(strings.ToLower(f), lua.LTrue)
		}
		t.RawSetString("flags", fl)
		t.RawSetString("seen", set.RawGetString(`\seen`))
		t.RawSetString("flagged", set.RawGetString(`\flagged`))
	}
	if m.Size >= 0 {
		t.RawSetString("size", lua.LNumber(m.Size))
	}
	if !m.InternalTime.IsZero() {
		t.RawSetString("date", lua.LNumber(m.InternalTime.Unix()))
	}
	if e := m.Envelope; e != nil {
		t.RawSetString("subject", lua.LString(e.Subject))
		t.RawSetString("message_id", lua.LString(e.MessageID))
		for k, as := range map[string][]imap.Address{"from": e.From, "to": e.To, "cc": e.Cc, "reply_to": e.ReplyTo} {
			l := L.CreateTable(len(as), 0)
			for _, ad := range as {
				x := L.CreateTable(0, 2)
				x.RawSetString("name", lua.LString(ad.Name))
				x.RawSetString("address", lua.LString(ad.Address))
				l.Append(x)
			}
			t.RawSetString(k, l)
		}
	}
	if m.BodyStructure != nil {
		t.RawSetString("bodystructure", bindings.BodyTable(L, m.BodyStructure))
	}
	var head []byte
	if h, ok := m.Body["HEADER"]; ok {
		head = h
		t.RawSetString("headers", lua.LString(h))
	}
	if b, ok := m.Body[""]; ok {
		t.RawSetString("raw", lua.LString(b))
		if head == nil {
			if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
				head = b[:i+4]
			}
		}
	}
	if head != nil {
		var parsed mail.Header
		t.RawSetString("header", L.NewFunction(func(L *lua.LState) int {
			if parsed == nil {
				msg, err := mail.ReadMessage(bytes.NewReader(append(bytes.Clone(head), "\r\n"...)))
				if err != nil {
					L.Push(lua.LNil)
					return 1
				}
				parsed = msg.Header
			}
			v := parsed.Get(L.CheckString(L.GetTop())) // msg:header(name) or msg.header(name)
			if v == "" {
				L.Push(lua.LNil)
			} else {
				L.Push(lua.LString(imap.DecodeHeader(v)))
			}
			return 1
		}))
	}
	return t
}
