package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/mattn/go-runewidth"

	"github.com/mailscript/mailscript/internal/memserver"
	"github.com/mailscript/mailscript/internal/selfsigned"
	"github.com/mailscript/mailscript/protocol/imap"
	"github.com/mailscript/mailscript/stdlib"
)

// testCmd is `mailscript test SCRIPT --mailbox PATH`: the script runs
// against an in-process copy of the mailbox, whatever server it names,
// and every message's fate is printed.
func (c *cli) testCmd(args []string) int {
	var rf runFlags
	fs := c.flags("test", "--mailbox PATH SCRIPT [ARGS...]",
		"Loads a copy of PATH (an mbox file or a Maildir) into an IMAP server inside this process as\n"+
			"INBOX, runs SCRIPT with every connection it makes sent there (any host, TLS or not, any\n"+
			"password), and prints what happened to each message: moved where, flags changed, deleted.\n"+
			"Check a filter before pointing it at a real account.", &rf)
	mailboxPath := fs.String("mailbox", "", "an mbox file or a Maildir folder (required)")
	rest, code := parseRunFlags(fs, &rf, args)
	if code >= 0 {
		return code
	}
	if *mailboxPath == "" || len(rest) == 0 {
		fs.Usage()
		return 2
	}
	if done := c.logTo(&rf); done != nil {
		defer done()
	} else if rf.logFile != "" {
		return 1
	}
	scriptArgv, err := scriptArgs(fs, rest[1:])
	if err != nil {
		fmt.Fprintln(c.stderr, "mailscript test:", err)
		return 2
	}
	msgs, err := loadMailbox(*mailboxPath)
	if err != nil {
		fmt.Fprintln(c.stderr, "mailscript test:", err)
		return 1
	}
	certs, err := selfsigned.New()
	if err != nil {
		fmt.Fprintln(c.stderr, "mailscript test:", err)
		return 1
	}
	srv, err := memserver.StartIMAP("test", "", msgs, certs.Server)
	if err != nil {
		fmt.Fprintln(c.stderr, "mailscript test:", err)
		return 1
	}
	defer srv.Close()
	ctx, sig, stop := signalContext()
	defer stop()
	before, err := snapshot(ctx, srv.Addr)
	if err != nil {
		fmt.Fprintln(c.stderr, "mailscript test:", err)
		return 1
	}
	info := c.out(&rf)
	fmt.Fprintf(info, "mailscript test: %d message(s) from %s loaded as INBOX\n\n", len(msgs), *mailboxPath)

	rt := c.runtime(&rf)
	rt.SetState(&stdlib.MemStore{})
	rt.SetNetwork(func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, srv.Addr)
	}, certs.Roots)
	res, runErr := rt.RunFile(ctx, rest[0], scriptArgv...)
	after, err := snapshot(context.Background(), srv.Addr)
	if err != nil {
		fmt.Fprintln(c.stderr, "mailscript test:", err)
		return 1
	}
	fmt.Fprintln(info, "\nwhat happened to each message:")
	printFates(info, before, after)
	if res != nil && rf.dryRun && !rf.json {
		fmt.Fprintln(c.stdout)
	}
	return c.finish(&rf, sig, res, runErr)
}

// loadMailbox reads an mbox file or a Maildir folder.
func loadMailbox(path string) ([]memserver.Message, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return loadMaildir(path)
	}
	return loadMbox(path)
}

func crlf(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
}

func dateOf(raw []byte) time.Time {
	if m, err := mail.ReadMessage(bytes.NewReader(raw)); err == nil {
		if d, err := m.Header.Date(); err == nil {
			return d
		}
	}
	return time.Now()
}

// loadMbox splits an mbox (mboxo or mboxrd) at its "From " lines.
func loadMbox(path string) ([]memserver.Message, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []memserver.Message
	var cur bytes.Buffer
	started := false
	flush := func() {
		if started {
			body, seen, flags := mboxFlags(bytes.TrimRight(cur.Bytes(), "\n"))
			raw := crlf(body)
			raw = append(raw, "\r\n"...)
			out = append(out, memserver.Message{Raw: raw, Date: dateOf(raw), Seen: seen, Flags: flags})
		}
		cur.Reset()
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	prevBlank := true
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "From ") && prevBlank {
			flush()
			started = true
			prevBlank = false
			continue
		}
		if q := strings.TrimLeft(line, ">"); strings.HasPrefix(line, ">") && strings.HasPrefix(q, "From ") {
			line = line[1:] // mboxrd unquoting
		}
		cur.WriteString(line + "\n")
		prevBlank = line == ""
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	flush()
	if len(out) == 0 {
		return nil, errors.New(path + ": no messages (an mbox starts each message with a \"From \" line)")
	}
	return out, nil
}

// loadMaildir reads cur/ and new/, with flags from the file names.
func loadMaildir(dir string) ([]memserver.Message, error) {
	var out []memserver.Message
	for _, sub := range []string{"cur", "new"} {
		files, _ := filepath.Glob(filepath.Join(dir, sub, "*"))
		sort.Strings(files)
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			m := memserver.Message{Raw: crlf(raw), Date: dateOf(raw)}
			if _, info, ok := strings.Cut(filepath.Base(f), ":2,"); ok {
				for _, ch := range info {
					switch ch {
					case 'S':
						m.Seen = true
					case 'F':
						m.Flags = append(m.Flags, `\Flagged`)
					case 'R':
						m.Flags = append(m.Flags, `\Answered`)
					case 'D':
						m.Flags = append(m.Flags, `\Draft`)
					case 'T':
						m.Flags = append(m.Flags, `\Deleted`)
					}
				}
			}
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return nil, errors.New(dir + ": no messages in cur/ or new/ (is it a Maildir?)")
	}
	return out, nil
}

// where is one copy of a message: its mailbox and flags.
type where struct {
	mailbox string
	flags   []string
}

type fate struct {
	subject string
	places  []where
}

// snapshot finds every message in every mailbox, keyed by its content.
func snapshot(ctx context.Context, addr string) (map[[32]byte]*fate, error) {
	cl, err := imap.Dial(ctx, addr, &imap.Options{Timeout: 30 * time.Second})
	if err != nil {
		return nil, err
	}
	defer cl.Logout(ctx)
	if _, err := cl.Login(ctx, "test", "test"); err != nil {
		return nil, err
	}
	_, boxes, err := cl.List(ctx, "", "*")
	if err != nil {
		return nil, err
	}
	out := map[[32]byte]*fate{}
	for _, b := range boxes {
		res, _, err := cl.Select(ctx, b.RawName, true)
		if err != nil || res.Type != "OK" {
			continue
		}
		_, msgs, err := cl.Fetch(ctx, "1:*", "(FLAGS ENVELOPE BODY.PEEK[])", false)
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			key := sha256.Sum256(m.Body[""])
			f := out[key]
			if f == nil {
				f = &fate{}
				if m.Envelope != nil {
					f.subject = m.Envelope.Subject
				}
				out[key] = f
			}
			flags := append([]string(nil), m.Flags...)
			sort.Strings(flags)
			f.places = append(f.places, where{mailbox: b.Name, flags: flags})
		}
	}
	return out, nil
}

func flagDiff(before, after []string) string {
	has := func(list []string, f string) bool {
		for _, x := range list {
			if strings.EqualFold(x, f) {
				return true
			}
		}
		return false
	}
	var parts []string
	for _, f := range after {
		if !has(before, f) && !strings.EqualFold(f, `\Recent`) {
			parts = append(parts, "+"+f)
		}
	}
	for _, f := range before {
		if !has(after, f) && !strings.EqualFold(f, `\Recent`) {
			parts = append(parts, "-"+f)
		}
	}
	return strings.Join(parts, " ")
}

func printFates(w io.Writer, before, after map[[32]byte]*fate) {
	unchanged := 0
	type line struct{ subject, text string }
	var lines []line
	for key, b := range before {
		a := after[key]
		from := b.places[0]
		switch {
		case a == nil:
			lines = append(lines, line{b.subject, "deleted"})
		case len(a.places) == 1 && a.places[0].mailbox == from.mailbox && flagDiff(from.flags, a.places[0].flags) == "":
			unchanged++
		default:
			var parts []string
			for _, p := range a.places {
				s := from.mailbox + " -> " + p.mailbox
				if p.mailbox == from.mailbox {
					s = "stays in " + p.mailbox
				}
				if d := flagDiff(from.flags, p.flags); d != "" {
					s += " " + d
				}
				parts = append(parts, s)
			}
			lines = append(lines, line{b.subject, strings.Join(parts, "; ")})
		}
	}
	for key, a := range after {
		if before[key] == nil {
			lines = append(lines, line{a.subject, "new in " + a.places[0].mailbox})
		}
	}
	sort.Slice(lines, func(i, j int) bool { return lines[i].subject < lines[j].subject })
	for _, l := range lines {
		fmt.Fprintf(w, "  %s  %s\n", padColumns(l.subject, 40), l.text)
	}
	fmt.Fprintf(w, "  (%d message(s) unchanged)\n", unchanged)
}

// padColumns cuts or pads s to width screen columns: CJK and other wide
// characters take two.
func padColumns(s string, width int) string {
	if runewidth.StringWidth(s) > width {
		s = runewidth.Truncate(s, width, "…")
	}
	return runewidth.FillRight(s, width)
}

// mboxFlags reads and removes the Status and X-Status headers mail
// readers (mutt, Thunderbird, Dovecot's mbox) keep flags in: R read,
// F flagged, A answered, D deleted, T draft (O, "old", is not a flag).
func mboxFlags(msg []byte) (out []byte, seen bool, flags []string) {
	end := bytes.Index(msg, []byte("\n\n"))
	if end < 0 {
		end = len(msg)
	}
	var head bytes.Buffer
	for _, line := range bytes.SplitAfter(msg[:end], []byte("\n")) {
		name, value, ok := bytes.Cut(line, []byte(":"))
		key := strings.ToLower(string(name))
		if !ok || (key != "status" && key != "x-status") {
			head.Write(line)
			continue
		}
		for _, ch := range strings.TrimSpace(string(value)) {
			switch ch {
			case 'R':
				seen = true
			case 'F':
				flags = append(flags, `\Flagged`)
			case 'A':
				flags = append(flags, `\Answered`)
			case 'D':
				flags = append(flags, `\Deleted`)
			case 'T':
				flags = append(flags, `\Draft`)
			}
		}
	}
	return append(head.Bytes(), msg[end:]...), seen, flags
}
