package mailgen

import (
	"bytes"
	"net/mail"
	"os"
	"path/filepath"
	"testing"
)

func TestDeterministicAndParseable(t *testing.T) {
	a, b := New(7), New(7)
	small, large, lists, unseen, encoded := 0, 0, 0, 0, 0
	const n = 500
	for i := 0; i < n; i++ {
		m1, m2 := a.Message(i), b.Message(i)
		if !bytes.Equal(m1.Raw, m2.Raw) {
			t.Fatalf("message %d differs between runs", i)
		}
		msg, err := mail.ReadMessage(bytes.NewReader(m1.Raw))
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		subj, err := new(mailDecoder).DecodeHeader(msg.Header.Get("Subject"))
		if err != nil || subj != m1.Subject {
			t.Fatalf("message %d subject %q decodes to %q (%v)", i, msg.Header.Get("Subject"), subj, err)
		}
		if bytes.Contains([]byte(msg.Header.Get("Subject")), []byte("=?")) {
			encoded++
		}
		if len(m1.Raw) < 10_000 {
			small++
		}
		if len(m1.Raw) > 20_000 {
			large++
		}
		if m1.ListID != "" {
			lists++
		}
		if !m1.Seen {
			unseen++
		}
	}
	if small < n/2 || large == 0 || lists < n/10 || unseen < n/5 || unseen > n/2 || encoded < n/20 {
		t.Fatalf("mix: small %d large %d lists %d unseen %d encoded %d", small, large, lists, unseen, encoded)
	}
	if New(8).Message(0).Subject == "" || bytes.Equal(New(8).Message(1).Raw, a.Message(1).Raw) {
		t.Fatal("seeds must differ")
	}
}

func TestWriteMaildir(t *testing.T) {
	dir := t.TempDir()
	msgs, err := New(1).WriteMaildir(dir, 0, 20, nil)
	if err != nil || len(msgs) != 20 {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "cur", "*"))
	if len(files) != 20 {
		t.Fatalf("%d files", len(files))
	}
	st, _ := os.Stat(files[0])
	if st.ModTime().Year() != 2024 {
		t.Fatal(st.ModTime())
	}
}
