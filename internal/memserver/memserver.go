// Package memserver runs in-process mail servers on 127.0.0.1 for
// `mailscript demo` and offline testing: IMAP from go-imap v2's
// imapmemserver (the client never uses that library), and a small POP3
// server over a fixed list of messages.
package memserver

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// Message is one message to load.
type Message struct {
	Raw   []byte
	Date  time.Time
	Seen  bool
	Flags []string
}

// IMAP is a running in-memory IMAP server with one user.
type IMAP struct {
	Addr     string
	User     *imapmemserver.User
	server   *imapserver.Server
	listener net.Listener
}

type literal struct{ *bytes.Reader }

func (l literal) Size() int64 { return l.Reader.Size() }

// anyLogin lets every user name and password in, as the one user: for
// testing scripts written with their real account's credentials.
type anyLogin struct{ *imapmemserver.UserSession }

func (anyLogin) Login(username, password string) error { return nil }

// StartIMAP serves user/password (any login when password is "") with mailboxes INBOX, Junk (\Junk),
// Trash (\Trash) and Archive (\Archive), INBOX holding msgs. With a TLS
// config it offers STARTTLS and also answers implicit TLS on the same
// port (a client that speaks first is sending a TLS hello).
func StartIMAP(user, password string, msgs []Message, tlsConfig *tls.Config) (*IMAP, error) {
	mem := imapmemserver.New()
	u := imapmemserver.NewUser(user, password)
	if err := u.Create("INBOX", nil); err != nil {
		return nil, err
	}
	for name, use := range map[string]imap.MailboxAttr{"Junk": imap.MailboxAttrJunk, "Trash": imap.MailboxAttrTrash, "Archive": imap.MailboxAttrArchive} {
		if err := u.Create(name, &imap.CreateOptions{SpecialUse: []imap.MailboxAttr{use}}); err != nil {
			return nil, err
		}
	}
	for _, m := range msgs {
		opts := &imap.AppendOptions{Time: m.Date}
		if m.Seen {
			opts.Flags = append(opts.Flags, imap.FlagSeen)
		}
		for _, f := range m.Flags {
			opts.Flags = append(opts.Flags, imap.Flag(f))
		}
		if _, err := u.Append("INBOX", literal{bytes.NewReader(m.Raw)}, opts); err != nil {
			return nil, err
		}
	}
	mem.AddUser(u)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			if password == "" {
				return anyLogin{imapmemserver.NewUserSession(u)}, nil, nil
			}
			return mem.NewSession(), nil, nil
		},
		Caps: imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapMove: {}, imap.CapUIDPlus: {}, imap.CapNamespace: {},
			imap.CapUnselect: {}, imap.CapIdle: {}, imap.CapSpecialUse: {}, imap.CapLiteralPlus: {}},
		InsecureAuth: true,
		TLSConfig:    tlsConfig,
		Logger:       log.New(io.Discard, "", 0),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	if tlsConfig != nil {
		ln = newSniffer(ln, tlsConfig)
	}
	go srv.Serve(ln)
	return &IMAP{Addr: ln.Addr().String(), User: u, server: srv, listener: ln}, nil
}

// Close stops the server.
func (s *IMAP) Close() { s.server.Close() }

// POP3 is a running POP3 server over a fixed list of messages.
type POP3 struct {
	Addr string
	ln   net.Listener
	mu   sync.Mutex
	msgs [][]byte // nil once deleted by a committed DELE
}

// StartPOP3 serves user/password (USER/PASS and APOP) over msgs.
func StartPOP3(user, password string, msgs [][]byte) (*POP3, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &POP3{Addr: ln.Addr().String(), ln: ln, msgs: msgs}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c, user, password)
		}
	}()
	return p, nil
}

// Close stops the server.
func (p *POP3) Close() { p.ln.Close() }

// Count is the number of messages left.
func (p *POP3) Count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, m := range p.msgs {
		if m != nil {
			n++
		}
	}
	return n
}

func (p *POP3) serve(c net.Conn, user, password string) {
	defer c.Close()
	stamp := fmt.Sprintf("<%d.%d@memserver>", time.Now().UnixNano(), len(password))
	r := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	reply := func(s string) { w.WriteString(s + "\r\n"); w.Flush() }
	reply("+OK mailscript demo POP3 ready " + stamp)
	authed, gotUser := false, ""
	deleted := map[int]bool{}
	for {
		c.SetReadDeadline(time.Now().Add(10 * time.Minute))
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		f := strings.Fields(strings.TrimSpace(line))
		if len(f) == 0 {
			reply("-ERR empty command")
			continue
		}
		cmd := strings.ToUpper(f[0])
		arg := func(i int) string {
			if i < len(f) {
				return f[i]
			}
			return ""
		}
		p.mu.Lock()
		msg := func(s string) ([]byte, int, bool) {
			var n int
			if _, err := fmt.Sscan(s, &n); err != nil || n < 1 || n > len(p.msgs) || p.msgs[n-1] == nil || deleted[n] {
				return nil, 0, false
			}
			return p.msgs[n-1], n, true
		}
		switch {
		case cmd == "QUIT":
			if authed {
				for n := range deleted {
					p.msgs[n-1] = nil
				}
			}
			p.mu.Unlock()
			reply("+OK bye")
			return
		case cmd == "CAPA":
			reply("+OK\r\nUSER\r\nUIDL\r\nTOP\r\n.")
		case cmd == "USER":
			gotUser = arg(1)
			reply("+OK send PASS")
		case cmd == "PASS":
			if gotUser == user && strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), f[0])) == password {
				authed = true
				reply("+OK logged in")
			} else {
				reply("-ERR [AUTH] bad user or password")
			}
		case cmd == "APOP":
			sum := md5.Sum([]byte(stamp + password))
			if arg(1) == user && arg(2) == hex.EncodeToString(sum[:]) {
				authed = true
				reply("+OK logged in")
			} else {
				reply("-ERR [AUTH] bad user or digest")
			}
		case !authed:
			reply("-ERR log in first")
		case cmd == "STAT":
			n, size := 0, 0
			for i, m := range p.msgs {
				if m != nil && !deleted[i+1] {
					n, size = n+1, size+len(m)
				}
			}
			reply(fmt.Sprintf("+OK %d %d", n, size))
		case cmd == "LIST" || cmd == "UIDL":
			if arg(1) != "" {
				m, n, ok := msg(arg(1))
				if !ok {
					reply("-ERR no such message")
				} else if cmd == "LIST" {
					reply(fmt.Sprintf("+OK %d %d", n, len(m)))
				} else {
					reply(fmt.Sprintf("+OK %d uid-%d", n, n))
				}
				break
			}
			var b strings.Builder
			b.WriteString("+OK\r\n")
			for i, m := range p.msgs {
				if m == nil || deleted[i+1] {
					continue
				}
				if cmd == "LIST" {
					fmt.Fprintf(&b, "%d %d\r\n", i+1, len(m))
				} else {
					fmt.Fprintf(&b, "%d uid-%d\r\n", i+1, i+1)
				}
			}
			b.WriteString(".")
			reply(b.String())
		case cmd == "RETR" || cmd == "TOP":
			m, _, ok := msg(arg(1))
			if !ok {
				reply("-ERR no such message")
				break
			}
			if cmd == "TOP" {
				var lines int
				fmt.Sscan(arg(2), &lines)
				head, body, _ := bytes.Cut(m, []byte("\r\n\r\n"))
				bl := bytes.SplitAfter(body, []byte("\r\n"))
				m = append(append(head, "\r\n\r\n"...), bytes.Join(bl[:min(lines, len(bl))], nil)...)
			}
			var b bytes.Buffer
			b.WriteString("+OK message follows\r\n")
			for _, l := range bytes.SplitAfter(m, []byte("\r\n")) {
				if bytes.HasPrefix(l, []byte(".")) {
					b.WriteByte('.')
				}
				b.Write(l)
			}
			if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
				b.WriteString("\r\n")
			}
			b.WriteString(".")
			reply(b.String())
		case cmd == "DELE":
			if _, n, ok := msg(arg(1)); ok {
				deleted[n] = true
				reply("+OK marked")
			} else {
				reply("-ERR no such message")
			}
		case cmd == "RSET":
			deleted = map[int]bool{}
			reply("+OK")
		case cmd == "NOOP":
			reply("+OK")
		default:
			reply("-ERR unknown command")
		}
		p.mu.Unlock()
	}
}

// sniffer hands out connections after a look at their first byte: a TLS
// record (0x16) within a short wait means implicit TLS; silence means a
// plain client waiting for the greeting.
type sniffer struct {
	net.Listener
	cfg   *tls.Config
	conns chan net.Conn
}

func newSniffer(ln net.Listener, cfg *tls.Config) *sniffer {
	s := &sniffer{Listener: ln, cfg: cfg, conns: make(chan net.Conn)}
	go func() {
		defer close(s.conns)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.sniff(c)
		}
	}()
	return s
}

func (s *sniffer) sniff(c net.Conn) {
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	first, err := br.Peek(1)
	c.SetReadDeadline(time.Time{})
	var out net.Conn = &peekedConn{Conn: c, r: br}
	if err == nil && first[0] == 0x16 {
		out = tls.Server(out, s.cfg)
	}
	defer func() { recover() }() // the listener closed meanwhile
	s.conns <- out
}

func (s *sniffer) Accept() (net.Conn, error) {
	c, ok := <-s.conns
	if !ok {
		return nil, net.ErrClosed
	}
	return c, nil
}

type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (p *peekedConn) Read(b []byte) (int, error) { return p.r.Read(b) }
