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
// mailbox size. Headers-only batches are larger: they are small.
const batchSize = 200

func batchFor(items string) int {
	if strings.Contains(items, "BODY.PEEK[]") {
		return batchSize
	}
	return 2500 // a round trip per 2,500 headers; a few MB in memory at most
}

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
		t.ForEach(func(_, v lua.LValue) { list = append(list, lua.LVAsString(v)) })
	}
	for _, it := range list {
		it = strings.TrimSpace(it)
		n, ok := itemNames[strings.ToLower(it)]
		if names, found := strings.CutPrefix(it, "header:"); found && names != "" {
			// only the named header fields: "header:From,List-Id"
			n, ok = "BODY.PEEK[HEADER.FIELDS ("+strings.ToUpper(strings.Join(strings.FieldsFunc(names, func(r rune) bool { return r == ',' || r == ' ' }), " "))+")]", true
		}
		if !ok {
			L.ArgError(3, "unknown item "+it+" (envelope, flags, size, date, headers, header:Name,Name, body, bodystructure)")
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
			end := min(pos+batchFor(items), len(uids))
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

// messageTable is one message for scripts: uid, seq, size and date are
// set at once, the rest (flags, addresses, headers...) built on first use
// and kept, so a script that reads one field pays for that field only.
func messageTable(L *lua.LState, m *imap.FetchMessage) *lua.LTable {
	t := L.CreateTable(0, 4)
	t.RawSetString("uid", lua.LNumber(m.UID))
	t.RawSetString("seq", lua.LNumber(m.Seq))
	if m.Size >= 0 {
		t.RawSetString("size", lua.LNumber(m.Size))
	}
	if !m.InternalTime.IsZero() {
		t.RawSetString("date", lua.LNumber(m.InternalTime.Unix()))
	}
	mt := L.CreateTable(0, 1)
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		key := L.CheckString(2)
		v := messageField(L, m, key)
		if v != lua.LNil {
			t.RawSetString(key, v)
		}
		L.Push(v)
		return 1
	}))
	L.SetMetatable(t, mt)
	return t
}

func addressList(L *lua.LState, as []imap.Address) *lua.LTable {
	l := L.CreateTable(len(as), 0)
	for _, ad := range as {
		x := L.CreateTable(0, 2)
		x.RawSetString("name", lua.LString(ad.Name))
		x.RawSetString("address", lua.LString(ad.Address))
		l.Append(x)
	}
	return l
}

func hasFlag(m *imap.FetchMessage, flag string) lua.LValue {
	if !m.HasFlags {
		return lua.LNil
	}
	for _, f := range m.Flags {
		if strings.EqualFold(f, flag) {
			return lua.LTrue
		}
	}
	return lua.LFalse
}

// messageField builds one field of a message table.
func messageField(L *lua.LState, m *imap.FetchMessage, key string) lua.LValue {
	e := m.Envelope
	switch key {
	case "flags":
		if m.HasFlags {
			fl := L.CreateTable(len(m.Flags), 0)
			for _, f := range m.Flags {
				fl.Append(lua.LString(f))
			}
			return fl
		}
	case "seen":
		return hasFlag(m, `\Seen`)
	case "flagged":
		return hasFlag(m, `\Flagged`)
	case "subject":
		if e != nil {
			return lua.LString(e.Subject)
		}
	case "message_id":
		if e != nil {
			return lua.LString(e.MessageID)
		}
	case "from", "to", "cc", "reply_to":
		if e != nil {
			return addressList(L, map[string][]imap.Address{"from": e.From, "to": e.To, "cc": e.Cc, "reply_to": e.ReplyTo}[key])
		}
	case "bodystructure":
		if m.BodyStructure != nil {
			return bindings.BodyTable(L, m.BodyStructure)
		}
	case "raw":
		if b, ok := m.Body[""]; ok {
			return lua.LString(b)
		}
	case "headers":
		if h := headerBytes(m); h != nil {
			return lua.LString(h)
		}
	case "header":
		head := headerBytes(m)
		if head == nil {
			return lua.LNil
		}
		var parsed mail.Header
		return L.NewFunction(func(L *lua.LState) int {
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
		})
	}
	return lua.LNil
}

// headerBytes is the message's header: fetched alone, or cut from the body.
func headerBytes(m *imap.FetchMessage) []byte {
	for k, h := range m.Body {
		if k == "HEADER" || strings.HasPrefix(k, "HEADER.FIELDS") {
			return h
		}
	}
	if b, ok := m.Body[""]; ok {
		if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
			return b[:i+4]
		}
	}
	return nil
}
