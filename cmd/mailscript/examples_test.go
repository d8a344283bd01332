package main

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailscript/mailscript/internal/dovecot"
	"github.com/mailscript/mailscript/internal/mailgen"
	"github.com/mailscript/mailscript/protocol/imap"
)

// The examples run against Dovecot, trusting its test CA through
// SSL_CERT_FILE as a user would trust a real server's.

func TestExampleUnreadCounts(t *testing.T) {
	srv := dovecot.Shared(t)
	user := "example-unread"
	md, err := srv.Maildir(user)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := mailgen.New(3).WriteMaildir(md, 0, 40, srv.Chown)
	if err != nil {
		t.Fatal(err)
	}
	unseen := 0
	for _, m := range msgs {
		if !m.Seen {
			unseen++
		}
	}
	ctx := context.Background()
	c, err := imap.Dial(ctx, dovecot.Addr(srv.IMAP), &imap.Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c.Login(ctx, user, dovecot.Password)
	c.Create(ctx, "Lists/golang")
	c.Append(ctx, "Lists/golang", "", "", []byte("Subject: one\r\n\r\nx\r\n"))
	c.Append(ctx, "Lists/golang", `\Seen`, "", []byte("Subject: two\r\n\r\nx\r\n"))
	c.Logout(ctx)

	cmd := exec.Command(bin, "run", "../../examples/unread_counts.lua", dovecot.Addr(srv.IMAPS), user)
	cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+srv.CAFile, "IMAP_PASSWORD="+dovecot.Password)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[0], "  INBOX") || !strings.HasSuffix(lines[1], "  Lists/golang") {
		t.Fatalf("output:\n%s", out)
	}
	if f := strings.Fields(lines[0]); f[0] != strconv.Itoa(unseen) || f[3] != "40" {
		t.Fatalf("INBOX line %q, want %d unread of 40", lines[0], unseen)
	}
	if f := strings.Fields(lines[1]); f[0] != "1" || f[3] != "2" {
		t.Fatalf("Lists line %q", lines[1])
	}
}

func TestExampleHello(t *testing.T) {
	out, errs, code := mailscript(t, "", "run", "../../examples/hello.lua")
	if code != 0 || !strings.Contains(out, "connecting to a closed port:\terror\trefused\ttrue") {
		t.Fatalf("%d %q %q", code, out, errs)
	}
}
