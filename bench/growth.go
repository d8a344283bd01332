package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mailscript/mailscript/internal/dovecot"
	"github.com/mailscript/mailscript/internal/mailgen"
)

// small keeps each message's header and gives it a one-line body, so
// that a 100,000-message mailbox seeds in seconds.
func small(msgs []mailgen.Message) []mailgen.Message {
	out := make([]mailgen.Message, len(msgs))
	for i, m := range msgs {
		end := bytes.Index(m.Raw, []byte("\r\n\r\n"))
		var raw []byte
		for _, l := range bytes.SplitAfter(m.Raw[:end+2], []byte("\r\n")) {
			if !bytes.HasPrefix(l, []byte("Content-")) { // the body is plain now
				raw = append(raw, l...)
			}
		}
		m.Raw = append(raw, "Content-Type: text/plain\r\n\r\nA short body.\r\n"...)
		out[i] = m
	}
	return out
}

func countName(n int) string {
	if n >= 1000 {
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

// w6 is growth: the header scan and the W1 triage on a mailbox of
// W6Small and of W6 small messages, loopback, for the library and
// imaplib; what is compared is the time per message and the peak memory.
func (b *bench) w6() error {
	loop := dovecot.Addr(b.srv.IMAP)
	for _, n := range []int{b.sz.W6Small, b.sz.W6} {
		msgs := small(messages(60, n))
		log("W6: seeding %d messages", n)
		user, err := b.user("w6", msgs)
		if err != nil {
			return err
		}
		scan := []tool{
			{"mailscript (library)", b.mailscript("w2_mailscript.lua")},
			{"Python imaplib", b.python("w2_imaplib.py")},
			{"raw drain", b.self("w2")},
		}
		err = b.runAll("W6 header scan "+countName(n), "loopback", scan, b.sz.Runs, func(tool) ([]string, error) {
			return b.env(loop, user), nil
		}, func(t tool, _ []string, out string) error {
			if strings.HasPrefix(t.name, "mailscript") && !strings.HasPrefix(strings.TrimSpace(out), fmt.Sprint(n)) {
				return fmt.Errorf("read %q, want %d messages", strings.TrimSpace(out), n)
			}
			return nil
		})
		if err != nil {
			return err
		}
		plan := w1Plan(msgs)
		pb, _ := json.Marshal(plan.export())
		os.WriteFile(filepath.Join(b.dir, "w6plan.json"), pb, 0o600)
		triage := []tool{
			{"mailscript (library)", b.mailscript("w1_stdlib.lua")},
			{"Python imaplib", b.python("w1_imaplib.py")},
			{"raw pipelined floor", b.self("w1", filepath.Join(b.dir, "w6plan.json"))}, // the server's share
		}
		var tuser string
		err = b.runAll("W6 triage "+countName(n), "loopback", triage, b.sz.Runs, func(tool) ([]string, error) {
			var err error
			tuser, err = b.user("w6t", msgs, "Lists", "Newsletters", "Receipts")
			return b.env(loop, tuser), err
		}, func(tool, []string, string) error { return b.checkW1(tuser, plan) })
		if err != nil {
			return err
		}
	}
	return nil
}

// growthTargets: time per message and peak memory, large mailbox over small.
func (b *bench) growthTargets(check func(desc string, v float64, ok bool, want float64, atMost bool)) {
	for _, w := range []string{"W6 header scan", "W6 triage"} {
		for _, tool := range []string{"mailscript (library)", "Python imaplib"} { // the floors' growth is in their tables
			var rs []*Result
			for i := range b.results {
				r := &b.results[i]
				if strings.HasPrefix(r.Workload, w+" ") && r.Tool == tool {
					rs = append(rs, r)
				}
			}
			if len(rs) != 2 || rs[0].Wall == 0 || rs[0].RSS == 0 {
				check(w+", "+tool+", per message large vs small", 0, false, 1.15, true)
				continue
			}
			ns, nl := sizeOf(rs[0].Workload), sizeOf(rs[1].Workload)
			check(fmt.Sprintf("%s, %s: time per message, %s vs %s", w, tool, countName(nl), countName(ns)),
				(rs[1].Wall/float64(nl))/(rs[0].Wall/float64(ns)), true, 1.15, true)
			check(fmt.Sprintf("%s, %s: peak RSS, %s vs %s", w, tool, countName(nl), countName(ns)),
				float64(rs[1].RSS)/float64(rs[0].RSS), true, 1.3, true)
		}
	}
}

// sizeOf reads the message count at the end of a workload's name ("10k").
func sizeOf(name string) int {
	f := strings.Fields(name)
	s := f[len(f)-1]
	mul := 1
	if strings.HasSuffix(s, "k") {
		s, mul = strings.TrimSuffix(s, "k"), 1000
	}
	var n int
	fmt.Sscan(s, &n)
	return n * mul
}
