package main

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/mailscript/mailscript/internal/mailgen"
	"github.com/mailscript/mailscript/internal/servers"
)

// The examples run against every server of servers.All, trusting its test CA through
// SSL_CERT_FILE as a user would trust a real server's.

func TestExampleUnreadCounts(t *testing.T) {
	servers.Each(t, testExampleUnreadCounts)
}

func testExampleUnreadCounts(t *testing.T, srv *servers.Server) {
	user := srv.User(t, "example-unread")
	msgs := make([]mailgen.Message, 40)
	for i := range msgs {
		msgs[i] = mailgen.New(3).Message(i)
	}
	srv.Seed(t, user, "", msgs)
	unseen := 0
	for _, m := range msgs {
		if !m.Seen {
			unseen++
		}
	}
	ctx := context.Background()
	c := srv.Dial(t, user)
	lists := srv.Folder("Lists/golang")
	c.Create(ctx, lists)
	c.Append(ctx, lists, "", "", []byte("Subject: one\r\n\r\nx\r\n"))
	c.Append(ctx, lists, `\Seen`, "", []byte("Subject: two\r\n\r\nx\r\n"))
	c.Logout(ctx)

	cmd := exec.Command(bin, "run", "../../examples/unread_counts.lua", servers.Addr(srv.IMAPS), user)
	cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+srv.CAFile, "IMAP_PASSWORD="+srv.Password)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[0], "  INBOX") || !strings.HasSuffix(lines[1], "  "+lists) {
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
