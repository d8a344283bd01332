package stdlib_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailscript/mailscript/internal/mailgen"
	"github.com/mailscript/mailscript/internal/servers"
	"github.com/mailscript/mailscript/protocol/imap"
	"github.com/mailscript/mailscript/runtime"
)

func TestMain(m *testing.M) { servers.Main(m) }

// cutProxy forwards one connection to a server and cuts it once the
// client has sent cut bytes (never, when cut < 0). With hideMove the
// server's capabilities lose MOVE, so the client takes the COPY path.
type cutProxy struct {
	l        net.Listener
	cut      int64
	hideMove bool
	inject   atomic.Bool  // unsolicited FETCHes for odd UIDs after every tagged reply
	sent     bytes.Buffer // what the client sent, for finding boundaries
	mu       sync.Mutex
}

func startProxy(t *testing.T, target string, cut int64, hideMove bool) *cutProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{l: l, cut: cut, hideMove: hideMove}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			go p.pipe(c, s)
		}
	}()
	t.Cleanup(func() { l.Close() })
	return p
}

func (p *cutProxy) pipe(c, s net.Conn) {
	var n atomic.Int64
	closeBoth := func() { c.Close(); s.Close() }
	go func() { // server -> client
		buf := make([]byte, 32<<10)
		var partial []byte // an unfinished line, when injecting
		for {
			k, err := s.Read(buf)
			if k > 0 {
				out := buf[:k]
				if p.inject.Load() {
					out, partial = injectAfterTagged(append(partial, out...))
				}
				if p.hideMove {
					out = bytes.ReplaceAll(out, []byte(" MOVE"), []byte("     "))
				}
				if _, werr := c.Write(out); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		closeBoth()
	}()
	buf := make([]byte, 32<<10)
	for {
		k, err := c.Read(buf)
		if k > 0 {
			chunk := buf[:k]
			total := n.Add(int64(k))
			if p.cut >= 0 && total >= p.cut {
				chunk = chunk[:int64(k)-(total-p.cut)]
				s.Write(chunk)
				p.record(chunk)
				closeBoth()
				return
			}
			s.Write(chunk)
			p.record(chunk)
		}
		if err != nil {
			closeBoth()
			return
		}
	}
}

var taggedLine = regexp.MustCompile(`^[A-Z]+[0-9]+ (OK|NO|BAD) `)

// unsolicited is what Cyrus sends when another client changes flags: here
// for messages outside the set the script moves (odd UIDs).
const unsolicited = "* 1 FETCH (FLAGS (\\Seen) UID 1)\r\n* 3 FETCH (FLAGS (\\Flagged) UID 3)\r\n"

// injectAfterTagged adds unsolicited responses after every tagged line of
// b (between two responses, so never inside a literal) and returns the
// unfinished last line separately.
func injectAfterTagged(b []byte) (out, rest []byte) {
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return out, append([]byte(nil), b...)
		}
		line := b[:i+1]
		out = append(out, line...)
		if taggedLine.Match(line) {
			out = append(out, unsolicited...)
		}
		b = b[i+1:]
	}
}

func (p *cutProxy) record(b []byte) {
	p.mu.Lock()
	p.sent.Write(b)
	p.mu.Unlock()
}

const moveScript = `
local account = require("account")
local acct = account.connect{host = "127.0.0.1", port = %d, user = %q, password = %q, tls = "none", timeout = 10}
acct:mailbox("INBOX"):all():move("Moved", {create = true})
acct:close()`

// moveEvenScript moves what the iterator yields over the even UIDs: the
// server's unsolicited FETCHes name odd ones, which must stay.
const moveEvenScript = `
local account = require("account")
local acct = account.connect{host = "127.0.0.1", port = %d, user = %q, password = %q, tls = "none", timeout = 10}
local inbox = acct:mailbox("INBOX")
local even = {}
for _, uid in ipairs(inbox:all():uids()) do
  if uid %% 2 == 0 then even[#even + 1] = uid end
end
local seen = {}
for msg in inbox:messages(inbox:set(even), {"flags", "size"}) do seen[#seen + 1] = msg.uid end
inbox:set(seen):move("Moved", {create = true})
acct:close()`

func runMove(ctx context.Context, srv *servers.Server, port int, user string) error {
	return runScriptOn(ctx, srv, moveScript, port, user)
}

func runScriptOn(ctx context.Context, srv *servers.Server, script string, port int, user string) error {
	rt := runtime.New(runtime.Options{Stdout: io.Discard, Stderr: io.Discard, Timeout: 10 * time.Second})
	_, err := rt.RunString(ctx, "move.lua", fmt.Sprintf(script, port, user, srv.Password))
	return err
}

// messageIDs counts each Message-ID in a mailbox ("/"-separated name).
func messageIDs(t *testing.T, srv *servers.Server, user, mailbox string) map[string]int {
	ctx := context.Background()
	c, err := imap.Dial(ctx, servers.Addr(srv.IMAP), &imap.Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Logout(ctx)
	c.Login(ctx, user, srv.Password)
	out := map[string]int{}
	res, st, err := c.Select(ctx, srv.Folder(mailbox), true)
	if err != nil || res.Type != "OK" || st.Exists == 0 {
		return out
	}
	_, msgs, err := c.Fetch(ctx, "1:*", "(ENVELOPE)", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		out[m.Envelope.MessageID]++
	}
	return out
}

// boundaries are the offsets just after each line the client sent.
func boundaries(sent []byte) []int64 {
	var out []int64
	for i := 0; i < len(sent); i++ {
		if sent[i] == '\n' {
			out = append(out, int64(i+1))
		}
	}
	return out
}

// faultCases are the servers and paths the fault test cuts: MOVE and the
// COPY path (MOVE hidden) on Dovecot, and Courier, which has no MOVE.
// Courier gets fewer messages and only the boundaries, to keep it quick,
// once into a new folder and once into one that exists (where the rerun's
// look at the destination is among the commands cut).
var faultCases = []struct {
	server     string
	hideMove   bool
	n          int
	nearby     bool // cut one byte either side of each boundary too
	random     int  // cuts at random offsets
	destExists bool
}{
	{"dovecot", false, 200, true, 50, false},
	{"dovecot", true, 200, true, 50, false},
	{"courier", false, 40, false, 10, false},
	{"courier", false, 40, false, 0, true},
	{"cyrus", false, 40, false, 10, false},
	{"cyrus", true, 40, false, 0, false},
}

// Every cut at any command boundary of a move, then a rerun: no message
// lost, none duplicated, on every path.
func TestMoveSurvivesCutConnections(t *testing.T) {
	for _, fc := range faultCases {
		path := "MOVE"
		if fc.hideMove || fc.server == "courier" { // Courier has no MOVE
			path = "COPY+STORE+UID EXPUNGE"
		}
		name := fc.server + "/" + path
		if fc.destExists {
			name += "/into an existing folder"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cutAndRerun(t, servers.Get(t, fc.server), fc.hideMove, fc.n, fc.nearby, fc.random, fc.destExists)
		})
	}
}

func cutAndRerun(t *testing.T, srv *servers.Server, hideMove bool, n int, nearby bool, random int, destExists bool) {
	seed := func(user string) []string {
		if destExists {
			srv.Seed(t, user, "Moved", nil)
		}
		return seedMessages(t, srv, user, n)
	}
	// a clean run finds the command boundaries
	user := srv.User(t, fmt.Sprintf("fault-base-%v-%v", hideMove, destExists))
	seed(user)
	p := startProxy(t, servers.Addr(srv.IMAP), -1, hideMove)
	if err := runMove(context.Background(), srv, p.l.Addr().(*net.TCPAddr).Port, user); err != nil {
		t.Fatalf("clean run: %v", err)
	}
	if got := messageIDs(t, srv, user, "Moved"); len(got) != n {
		t.Fatalf("clean run moved %d", len(got))
	}
	bounds := boundaries(p.sent.Bytes())
	total := int64(p.sent.Len())
	var cuts []int64
	for _, b := range bounds {
		if nearby {
			cuts = append(cuts, b-1, b+1)
		}
		cuts = append(cuts, b)
	}
	rng := rand.New(rand.NewPCG(1, uint64(len(bounds))))
	for i := 0; i < random; i++ {
		cuts = append(cuts, 1+rng.Int64N(total))
	}
	for i, cut := range cuts {
		user := srv.User(t, fmt.Sprintf("fault-%v-%v-%d", hideMove, destExists, i))
		want := seed(user)
		p := startProxy(t, servers.Addr(srv.IMAP), cut, hideMove)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		runMove(ctx, srv, p.l.Addr().(*net.TCPAddr).Port, user) // fails, mostly: the cut
		cancel()
		// reconnect and re-run, unhindered
		again := startProxy(t, servers.Addr(srv.IMAP), -1, hideMove)
		if err := runMove(context.Background(), srv, again.l.Addr().(*net.TCPAddr).Port, user); err != nil {
			t.Fatalf("cut at %d: re-run failed: %v", cut, err)
		}
		moved, left := messageIDs(t, srv, user, "Moved"), messageIDs(t, srv, user, "INBOX")
		if len(left) != 0 {
			t.Fatalf("cut at %d: %d message(s) left in INBOX after the re-run", cut, len(left))
		}
		for _, id := range want {
			if moved[id] == 0 {
				t.Fatalf("cut at %d of %d: message %s lost", cut, total, id)
			}
			if moved[id] > 1 {
				t.Fatalf("cut at %d of %d: message %s in Moved %d times", cut, total, id, moved[id])
			}
		}
	}
	t.Logf("%d cuts (%d command boundaries, %d random) over %d bytes: none lost, none duplicated", len(cuts), len(bounds), random, total)
}

func seedMessages(t *testing.T, srv *servers.Server, user string, n int) []string {
	g := mailgen.New(3)
	msgs := make([]mailgen.Message, n)
	var ids []string
	for i := range msgs {
		msgs[i] = g.Message(i)
		ids = append(ids, fmt.Sprintf("<3.%d@mailgen.example>", i))
	}
	srv.Seed(t, user, "", msgs)
	return ids
}

// inboxUIDs are the UIDs and Message-IDs of a user's INBOX.
func inboxUIDs(t *testing.T, srv *servers.Server, user string) map[uint32]string {
	ctx := context.Background()
	c, err := imap.Dial(ctx, servers.Addr(srv.IMAP), &imap.Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Logout(ctx)
	c.Login(ctx, user, srv.Password)
	out := map[uint32]string{}
	res, st, err := c.Select(ctx, "INBOX", true)
	if err != nil || res.Type != "OK" || st.Exists == 0 {
		return out
	}
	_, msgs, err := c.Fetch(ctx, "1:*", "(UID ENVELOPE)", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		out[m.UID] = m.Envelope.MessageID
	}
	return out
}

// With unsolicited FETCHes for odd UIDs after every tagged reply, a move
// of the even UIDs cut at any command boundary and re-run loses nothing
// and never touches an odd one.
func TestMoveWithUnsolicitedFetchSurvivesCutConnections(t *testing.T) {
	srv := servers.Get(t, "dovecot")
	const n = 60
	for _, hideMove := range []bool{false, true} {
		path := "MOVE"
		if hideMove {
			path = "COPY+STORE+UID EXPUNGE"
		}
		user := srv.User(t, fmt.Sprintf("unsol-base-%v", hideMove))
		seedMessages(t, srv, user, n)
		p := startProxy(t, servers.Addr(srv.IMAP), -1, hideMove)
		p.inject.Store(true)
		if err := runScriptOn(context.Background(), srv, moveEvenScript, p.l.Addr().(*net.TCPAddr).Port, user); err != nil {
			t.Fatalf("%s: clean run: %v", path, err)
		}
		bounds := boundaries(p.sent.Bytes())
		for i, cut := range bounds {
			user := srv.User(t, fmt.Sprintf("unsol-%v-%d", hideMove, i))
			seedMessages(t, srv, user, n)
			before := inboxUIDs(t, srv, user)
			p := startProxy(t, servers.Addr(srv.IMAP), cut, hideMove)
			p.inject.Store(true)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			runScriptOn(ctx, srv, moveEvenScript, p.l.Addr().(*net.TCPAddr).Port, user)
			cancel()
			again := startProxy(t, servers.Addr(srv.IMAP), -1, hideMove)
			again.inject.Store(true)
			if err := runScriptOn(context.Background(), srv, moveEvenScript, again.l.Addr().(*net.TCPAddr).Port, user); err != nil {
				t.Fatalf("%s, cut at %d: re-run failed: %v", path, cut, err)
			}
			moved, left := messageIDs(t, srv, user, "Moved"), inboxUIDs(t, srv, user)
			for uid, id := range before {
				switch {
				case uid%2 == 1 && left[uid] != id:
					t.Fatalf("%s, cut at %d: odd UID %d (outside the set) left INBOX", path, cut, uid)
				case uid%2 == 1 && moved[id] > 0:
					t.Fatalf("%s, cut at %d: odd UID %d (outside the set) was copied", path, cut, uid)
				case uid%2 == 0 && moved[id] == 0:
					t.Fatalf("%s, cut at %d: message %s (UID %d) lost", path, cut, id, uid)
				case uid%2 == 0 && left[uid] != "":
					t.Fatalf("%s, cut at %d: UID %d still in INBOX after the re-run", path, cut, uid)
				}
			}
		}
		t.Logf("%s: %d cuts at command boundaries with unsolicited FETCHes: nothing lost, nothing outside the set touched", path, len(bounds))
	}
}
