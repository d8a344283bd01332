package stdlib

import (
	"bytes"
	"context"
	"strings"
	"sync"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/bindings"
	"github.com/mailscript/mailscript/protocol/imap"
)

// batchFor says how many messages a batch asks for and how many batches
// are in flight: 2,500 headers with four in flight (at 10 ms round trip,
// two left the server idle between batches; four did not, measured on
// W2), or 200 whole messages with four (with two, a script writing each
// message to disk ran dry between batches at 10 ms round trip: W3).
func batchFor(items string) (size, ahead int) {
	if strings.Contains(items, "BODY.PEEK[]") {
		return 200, 4
	}
	return 2500, 4
}

// prefetch streams the FETCH replies of a message set to the iterator:
// a goroutine keeps a few batches in flight, so the next batch's
// replies follow the last one's without a round trip between, and hands
// each message over as soon as it is decoded. It sends a batch only while
// fewer than two batches of messages wait unread (one was too few at
// 10 ms: a script a little behind stalled the pipeline), so memory stays
// a few batches on any mailbox. stop hands the connection back.
type prefetch struct {
	c     *imap.Client
	items string
	limit int // messages per batch; twice that waiting unread stops sending
	ahead int // batches in flight at most
	got   *fetched

	mu      sync.Mutex
	cond    *sync.Cond
	todo    [][]uint32 // batches not sent yet
	buf     []*imap.FetchMessage
	err     error
	halt    bool // the script needs the connection
	running bool
	done    chan struct{}
}

func newPrefetch(c *imap.Client, uids []uint32, items string) *prefetch {
	p := &prefetch{c: c, items: items, got: newFetched(uids, items)}
	p.limit, p.ahead = batchFor(items)
	p.cond = sync.NewCond(&p.mu)
	for i := 0; i < len(uids); i += p.limit {
		p.todo = append(p.todo, uids[i:min(i+p.limit, len(uids))])
	}
	return p
}

// start runs the producer; the connection is its own until stop, or
// until ctx ends (the script's run is over).
func (p *prefetch) start(ctx context.Context) {
	p.halt, p.running = false, true
	p.done = make(chan struct{})
	end := context.AfterFunc(ctx, func() {
		p.mu.Lock()
		p.halt = true
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	go func() {
		defer end()
		p.run(ctx)
	}()
}

// stop waits for the batches in flight and returns the connection.
func (p *prefetch) stop() {
	p.mu.Lock()
	p.halt = true
	p.cond.Broadcast()
	p.mu.Unlock()
	<-p.done
}

func (p *prefetch) run(ctx context.Context) {
	var flight [][]*imap.Command
	defer func() {
		p.mu.Lock()
		p.running = false
		p.cond.Broadcast()
		p.mu.Unlock()
		close(p.done)
	}()
	fail := func(err error) {
		p.mu.Lock()
		if p.err == nil {
			p.err = err
		}
		p.mu.Unlock()
	}
	for {
		p.mu.Lock()
		for len(flight) == 0 && !p.halt && len(p.todo) > 0 && len(p.buf) >= 2*p.limit {
			p.cond.Wait()
		}
		var next []uint32
		if len(flight) < p.ahead && !p.halt && p.err == nil && len(p.todo) > 0 && len(p.buf) < 2*p.limit {
			next, p.todo = p.todo[0], p.todo[1:]
		}
		p.mu.Unlock()
		if next != nil {
			cmds := p.commands(next)
			if err := p.c.Start(ctx, cmds...); err != nil {
				fail(err)
				return
			}
			flight = append(flight, cmds)
			continue
		}
		if len(flight) == 0 {
			return
		}
		if err := p.c.Wait(ctx, flight[0]...); err != nil {
			fail(err)
			return
		}
		if c := firstErr(flight[0]); c != nil {
			fail(c.Err())
		}
		flight = flight[1:]
	}
}

// commands are one batch's UID FETCHes; the messages asked for go to
// buf, once each, and nothing else (see fetched).
func (p *prefetch) commands(uids []uint32) []*imap.Command {
	var cmds []*imap.Command
	for _, s := range uidChunks(uids) {
		cmd := imap.FetchItems(s, p.items)
		cmd.OnUntagged = func(r *imap.Response) {
			p.mu.Lock()
			defer p.mu.Unlock()
			m, err := p.got.add(r, true) // ENVELOPE when the script reads it
			switch {
			case err != nil:
				if p.err == nil {
					p.err = err
				}
			case m != nil:
				p.buf = append(p.buf, m)
				p.cond.Broadcast()
			}
		}
		cmds = append(cmds, cmd)
	}
	return cmds
}

// next returns the next message, nil at the end. When the producer was
// stopped (the script used the connection) with batches left, restart
// runs it again.
func (p *prefetch) next(restart func()) (*imap.FetchMessage, error) {
	for {
		p.mu.Lock()
		for len(p.buf) == 0 && p.err == nil && p.running {
			p.cond.Wait()
		}
		if len(p.buf) > 0 {
			m := p.buf[0]
			p.buf[0] = nil
			p.buf = p.buf[1:]
			if len(p.buf) == 2*p.limit-1 {
				p.cond.Broadcast() // room for another batch
			}
			p.mu.Unlock()
			return m, nil
		}
		err, more := p.err, len(p.todo) > 0
		p.mu.Unlock()
		if err != nil || !more {
			return nil, err
		}
		restart()
	}
}

// fetchAll fetches uids at once (watch's few new messages).
func (a *account) fetchAll(L *lua.LState, uids []uint32, items string) ([]*imap.FetchMessage, error) {
	a.wait()
	p := newPrefetch(a.c, uids, items)
	cmds := p.commands(uids)
	if err := a.c.Execute(bindings.Ctx(L), cmds...); err != nil {
		return nil, err
	}
	if c := firstErr(cmds); c != nil {
		return nil, c.Err()
	}
	return p.buf, p.err
}

var itemNames = map[string]string{
	"envelope": "ENVELOPE", "flags": "FLAGS", "size": "RFC822.SIZE", "date": "INTERNALDATE",
	"headers": "BODY.PEEK[HEADER]", "body": "BODY.PEEK[]", "bodystructure": "BODYSTRUCTURE",
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
	m.use(L)
	p := newPrefetch(a.c, uids, items)
	restart := func() {
		a.wait()   // another iterator's producer, if any
		m.ready(L) // the script may have selected another mailbox since
		a.inflight = p
		p.start(bindings.Ctx(L))
	}
	if len(uids) > 0 {
		a.inflight = p
		p.start(bindings.Ctx(L))
	}
	L.Push(L.NewFunction(func(L *lua.LState) int {
		msg, err := p.next(restart)
		if err != nil {
			if a.inflight == p {
				a.wait()
			}
			bindings.Raise(L, err)
		}
		if msg == nil {
			if a.inflight == p {
				a.wait()
			}
			L.Push(lua.LNil)
			return 1
		}
		L.Push(messageTable(L, msg))
		return 1
	}))
	return 1
}

// msgKey is where a message table keeps its Go message: a key no
// script can write by accident.
var msgKey = &lua.LUserData{}

const messageType = "account.Message"

// messageTable is one message for scripts: uid, seq, size and date are
// set at once, the rest (flags, addresses, headers...) built on first use
// and kept, so a script that reads one field pays for that field only.
// Every message table shares one metatable.
func messageTable(L *lua.LState, m *imap.FetchMessage) *lua.LTable {
	t := L.CreateTable(0, 5)
	t.RawSetString("uid", lua.LNumber(m.UID))
	t.RawSetString("seq", lua.LNumber(m.Seq))
	if m.Size >= 0 {
		t.RawSetString("size", lua.LNumber(m.Size))
	}
	if !m.InternalTime.IsZero() {
		t.RawSetString("date", lua.LNumber(m.InternalTime.Unix()))
	}
	ud := L.NewUserData()
	ud.Value = m
	t.RawSet(msgKey, ud)
	mt, ok := L.GetTypeMetatable(messageType).(*lua.LTable)
	if !ok {
		mt = L.NewTypeMetatable(messageType)
		header := L.NewFunction(msgHeader)
		mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
			t, key := L.CheckTable(1), L.CheckString(2)
			if key == "header" {
				L.Push(header)
				return 1
			}
			v := lua.LValue(lua.LNil)
			if m := messageOf(t); m != nil {
				v = messageField(L, m, key)
			}
			if v != lua.LNil {
				t.RawSetString(key, v)
			}
			L.Push(v)
			return 1
		}))
	}
	L.SetMetatable(t, mt)
	return t
}

func messageOf(t *lua.LTable) *imap.FetchMessage {
	if ud, ok := t.RawGet(msgKey).(*lua.LUserData); ok {
		m, _ := ud.Value.(*imap.FetchMessage)
		return m
	}
	return nil
}

// msgHeader is msg:header(name): the first such field, unfolded and
// RFC 2047-decoded, or nil.
func msgHeader(L *lua.LState) int {
	m := messageOf(L.CheckTable(1))
	name := L.CheckString(2)
	if m == nil {
		L.Push(lua.LNil)
		return 1
	}
	v, ok := headerValue(headerBytes(m), name)
	if !ok {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(lua.LString(imap.DecodeHeader(v)))
	return 1
}

// headerValue finds the first field called name in a header block, as
// net/textproto reads it: continuation lines joined by one space, outer
// white space trimmed.
func headerValue(head []byte, name string) (string, bool) {
	for len(head) > 0 {
		line, rest := cutLine(head)
		head = rest
		if len(line) == 0 {
			break // end of the header
		}
		if len(line) <= len(name) || line[len(name)] != ':' || !bytes.EqualFold(line[:len(name)], []byte(name)) {
			continue
		}
		v := bytes.TrimSpace(line[len(name)+1:])
		var long []byte
		for len(head) > 0 && (head[0] == ' ' || head[0] == '\t') {
			cont, rest := cutLine(head)
			head = rest
			if long == nil {
				long = append([]byte(nil), v...)
			}
			if c := bytes.TrimSpace(cont); len(c) > 0 {
				long = append(append(long, ' '), c...)
			}
		}
		if long != nil {
			return string(long), true
		}
		return string(v), true
	}
	return "", false
}

// cutLine splits off the first line, without its CRLF or LF.
func cutLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	line, rest = b[:i], b[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
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
	switch key {
	case "subject", "message_id", "from", "to", "cc", "reply_to", "bodystructure":
		if err := m.Resolve(); err != nil {
			bindings.Raise(L, err)
		}
	}
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
			charge(L, int64(len(b)))
			return lua.LString(b)
		}
	case "headers":
		if h := headerBytes(m); h != nil {
			charge(L, int64(len(h)))
			return lua.LString(h)
		}
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
