// Package mailgen makes realistic test messages, deterministically from a
// seed: people and mailing lists and newsletters as senders, RFC 2047
// subjects in several charsets, plain, multipart/alternative and messages
// with attachments, sizes from about 1 KB to 200 KB. It can write them
// straight into a Maildir, which seeds a mailbox far faster than APPEND.
package mailgen

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"mime"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
)

// Message is one generated message.
type Message struct {
	Raw     []byte
	Date    time.Time
	From    string // address
	Subject string // UTF-8
	ListID  string // "" unless from a mailing list
	Seen    bool
	Flagged bool
}

// Generator makes messages; the same seed gives the same messages.
type Generator struct {
	seed uint64
	// UnseenRate is the share of messages left unseen (default 0.28).
	UnseenRate float64
	// Start is the date of message 0; later ones are newer.
	Start time.Time
}

// New returns a generator for seed.
func New(seed uint64) *Generator {
	return &Generator{seed: seed, UnseenRate: 0.28, Start: time.Date(2024, 1, 1, 8, 0, 0, 0, time.UTC)}
}

var (
	firstNames = []string{"Alice", "Bob", "Chloé", "Dmitri", "Eva", "François", "Gül", "Hiroshi", "Ingrid", "José", "Katarzyna", "Lars", "Mei", "Noah", "Olga", "Pedro"}
	lastNames  = []string{"Müller", "Smith", "Nakamura", "Ivanova", "García", "Dubois", "Öztürk", "Larsen", "Kowalska", "Chen", "Rossi", "Novak"}
	domains    = []string{"example.com", "example.org", "mail.example.net", "corp.example", "uni.example.edu"}
	lists      = []struct{ name, id, addr string }{
		{"golang-nuts", "<golang-nuts.googlegroups.com>", "golang-nuts@googlegroups.com"},
		{"dovecot", "<dovecot.dovecot.org>", "dovecot@dovecot.org"},
		{"debian-devel", "<debian-devel.lists.debian.org>", "debian-devel@lists.debian.org"},
		{"lua-l", "<lua-l.lists.lua.org>", "lua-l@lists.lua.org"},
	}
	newsletters = []string{"news@shop.example", "digest@weekly.example", "offers@travel.example"}
	topics      = []string{"meeting notes", "quarterly report", "Re: build failure on arm64", "lunch?", "invoice 2024-117",
		"Fwd: photos from the trip", "release candidate 3", "Übersicht der Änderungen", "Привет из Москвы", "会議の議事録",
		"café tomorrow at 10", "patch: fix literal parsing", "weekly digest", "your order has shipped", "Re: Re: schedule"}
	words = strings.Fields("the quick brown fox jumps over a lazy dog while mail servers hum and filters sort " +
		"messages into folders archive flag reply later tomorrow meeting notes release patch review build test server")
)

type charsetEnc struct {
	name string
	enc  encoding.Encoding // nil: UTF-8
}

var charsets = []charsetEnc{
	{"UTF-8", nil}, {"ISO-8859-1", charmap.ISO8859_1}, {"KOI8-R", charmap.KOI8R},
	{"ISO-2022-JP", japanese.ISO2022JP}, {"windows-1252", charmap.Windows1252},
}

// encodeWord encodes s as RFC 2047 words in one of the charsets that can
// hold it, chosen by rng.
func encodeWord(rng *rand.Rand, s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
		}
	}
	if ascii {
		return s
	}
	start := rng.IntN(len(charsets))
	for k := range charsets {
		cs := charsets[(start+k)%len(charsets)]
		b := []byte(s)
		if cs.enc != nil {
			out, err := cs.enc.NewEncoder().Bytes(b)
			if err != nil {
				continue
			}
			b = out
		}
		if rng.IntN(2) == 0 || cs.name == "ISO-2022-JP" {
			return "=?" + cs.name + "?B?" + base64.StdEncoding.EncodeToString(b) + "?="
		}
		return mime.QEncoding.Encode(cs.name, string(b))
	}
	return mime.BEncoding.Encode("UTF-8", s)
}

// Message returns message i.
func (g *Generator) Message(i int) Message {
	rng := rand.New(rand.NewPCG(g.seed, uint64(i)))
	m := Message{Date: g.Start.Add(time.Duration(i) * 17 * time.Minute)}
	m.Seen = rng.Float64() >= g.UnseenRate
	m.Flagged = rng.IntN(25) == 0
	person := func() (string, string) {
		f, l := firstNames[rng.IntN(len(firstNames))], lastNames[rng.IntN(len(lastNames))]
		addr := strings.ToLower(asciiFold(f)+"."+asciiFold(l)) + "@" + domains[rng.IntN(len(domains))]
		return f + " " + l, addr
	}
	var h bytes.Buffer
	fromName, fromAddr := person()
	kind := rng.IntN(10)
	switch {
	case kind < 3:
		l := lists[rng.IntN(len(lists))]
		m.ListID = l.name + " " + l.id
		fmt.Fprintf(&h, "List-Id: %s\r\nList-Post: <mailto:%s>\r\nPrecedence: list\r\n", m.ListID, l.addr)
	case kind < 5:
		fromAddr = newsletters[rng.IntN(len(newsletters))]
		fromName = strings.Split(fromAddr, "@")[1]
		fmt.Fprintf(&h, "List-Unsubscribe: <mailto:unsubscribe@%s>\r\n", strings.Split(fromAddr, "@")[1])
	}
	if rng.IntN(8) == 0 {
		fmt.Fprintf(&h, "X-Spam-Score: %d.%d\r\n", rng.IntN(15), rng.IntN(10))
	}
	m.From = fromAddr
	m.Subject = topics[rng.IntN(len(topics))]
	if rng.IntN(3) == 0 {
		m.Subject += fmt.Sprintf(" #%d", i)
	}
	toName, toAddr := person()
	var b bytes.Buffer
	fmt.Fprintf(&b, "Return-Path: <%s>\r\n", fromAddr)
	fmt.Fprintf(&b, "From: %s <%s>\r\n", encodeWord(rng, fromName), fromAddr)
	fmt.Fprintf(&b, "To: %s <%s>\r\n", encodeWord(rng, toName), toAddr)
	if rng.IntN(4) == 0 {
		ccName, ccAddr := person()
		fmt.Fprintf(&b, "Cc: %s <%s>\r\n", encodeWord(rng, ccName), ccAddr)
	}
	fmt.Fprintf(&b, "Subject: %s\r\n", encodeWord(rng, m.Subject))
	fmt.Fprintf(&b, "Date: %s\r\n", m.Date.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%d.%d@mailgen.example>\r\n", g.seed, i)
	b.Write(h.Bytes())
	b.WriteString("MIME-Version: 1.0\r\n")
	// sizes: most mail is small, some large
	target := 1000 + rng.IntN(4000)
	if rng.IntN(10) == 0 {
		target = 20_000 + rng.IntN(180_000)
	}
	text := paragraph(rng, target)
	switch shape := rng.IntN(10); {
	case shape < 5:
		b.WriteString("Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
		b.WriteString(text)
	case shape < 8:
		boundary := fmt.Sprintf("alt-%d-%d", g.seed, i)
		fmt.Fprintf(&b, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n", boundary)
		fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n%s\r\n", boundary, text)
		fmt.Fprintf(&b, "--%s\r\nContent-Type: text/html; charset=UTF-8\r\n\r\n<html><body><p>%s</p></body></html>\r\n--%s--\r\n", boundary, text[:min(len(text), 2000)], boundary)
	default:
		boundary := fmt.Sprintf("mix-%d-%d", g.seed, i)
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n", boundary)
		fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n%s\r\n", boundary, text[:min(len(text), 1500)])
		att := make([]byte, max(target-1500, 200)*3/4)
		for k := range att {
			att[k] = byte(rng.UintN(256))
		}
		name := []string{"report.pdf", "photo.jpg", "data.csv", "Übersicht.xlsx"}[rng.IntN(4)]
		fmt.Fprintf(&b, "--%s\r\nContent-Type: application/octet-stream; name=\"%s\"\r\nContent-Disposition: attachment; filename=\"%s\"\r\nContent-Transfer-Encoding: base64\r\n\r\n",
			boundary, encodeWord(rng, name), encodeWord(rng, name))
		enc := base64.StdEncoding.EncodeToString(att)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n--" + boundary + "--\r\n")
	}
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		b.WriteString("\r\n") // real mail ends in a line ending; POP3 adds one otherwise
	}
	m.Raw = b.Bytes()
	return m
}

func asciiFold(s string) string {
	r := strings.NewReplacer("é", "e", "ç", "c", "ü", "u", "ö", "o", "Ö", "O", "ğ", "g", "Ü", "U", "ł", "l")
	return r.Replace(s)
}

func paragraph(rng *rand.Rand, n int) string {
	var b strings.Builder
	col := 0
	for b.Len() < n {
		w := words[rng.IntN(len(words))]
		b.WriteString(w)
		col += len(w) + 1
		if col > 60 {
			b.WriteString("\r\n")
			col = 0
		} else {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// WriteMaildir writes messages from..to-1 into the Maildir dir (its cur/
// folder), with flags in the file names and the date as modification
// time (Dovecot's INTERNALDATE). chown, if set, is applied to each file.
func (g *Generator) WriteMaildir(dir string, from, to int, chown func(string) error) ([]Message, error) {
	msgs := make([]Message, 0, to-from)
	for i := from; i < to; i++ {
		msgs = append(msgs, g.Message(i))
	}
	return msgs, WriteMessages(dir, msgs, from, g.seed, chown)
}

// WriteMessages writes msgs (numbered from first) into the Maildir dir.
func WriteMessages(dir string, msgs []Message, first int, seed uint64, chown func(string) error) error {
	cur := filepath.Join(dir, "cur")
	if err := os.MkdirAll(cur, 0o700); err != nil {
		return err
	}
	for k, m := range msgs {
		flags := ""
		if m.Flagged {
			flags += "F"
		}
		if m.Seen {
			flags += "S"
		}
		name := fmt.Sprintf("%d.M%dP%d.mailgen,S=%d:2,%s", m.Date.Unix(), first+k, seed, len(m.Raw), flags)
		p := filepath.Join(cur, name)
		if err := os.WriteFile(p, m.Raw, 0o600); err != nil {
			return err
		}
		if err := os.Chtimes(p, m.Date, m.Date); err != nil {
			return err
		}
		if chown != nil {
			if err := chown(p); err != nil {
				return err
			}
		}
	}
	return nil
}
