package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mailscript/mailscript/internal/dovecot"
)

func TestSandboxLimitIsOneLine(t *testing.T) {
	grow := write(t, "grow.lua", `local t, i = {}, 0 while true do i = i + 1 t[i] = string.rep("x", 1000) .. i end`)
	_, errs, code := mailscript(t, "", "run", "--sandbox", "--memory", "64M", grow)
	if code != 1 || errs != "mailscript: memory limit of 64 MiB exceeded\n" {
		t.Fatalf("%d %q", code, errs)
	}
	loop := write(t, "loop.lua", `while true do end`)
	_, errs, code = mailscript(t, "", "run", "--sandbox", "--timeout", "200ms", loop)
	if line := strings.TrimSpace(errs); code != 1 || strings.Contains(line, "\n") || !strings.HasSuffix(line, "loop.lua:1: time limit of 200ms exceeded") {
		t.Fatalf("%d %q", code, errs)
	}
	_, errs, code = mailscript(t, "", "run", "--sandbox", "--memory", "lots", loop)
	if code != 2 || !strings.Contains(errs, `"lots" is not a size`) {
		t.Fatalf("%d %q", code, errs)
	}
}

func TestSandboxIsolatesByDefault(t *testing.T) {
	// only the --env names reach the script, isolated or not
	p := write(t, "s.lua", `print(pcall(function() return io.open end) == false, os.getenv("MS_SANDBOX_TEST"), os.getenv("HOME"))`)
	t.Setenv("MS_SANDBOX_TEST", "granted")
	out, errs, code := mailscript(t, "", "run", "--sandbox", "--env", "MS_SANDBOX_TEST", p)
	if code != 0 || out != "true\tgranted\tnil\n" {
		t.Fatal(code, out, errs)
	}
	out, _, code = mailscript(t, "", "run", "--sandbox", p)
	if code != 0 || out != "true\tnil\tnil\n" {
		t.Fatal(code, out)
	}
	out, _, code = mailscript(t, "", "run", "--sandbox", "--in-process", "--env", "MS_SANDBOX_TEST", p)
	if code != 0 || out != "true\tgranted\tnil\n" {
		t.Fatal(code, out)
	}
}

func TestSandboxAllowHostDovecot(t *testing.T) {
	srv := dovecot.Shared(t)
	addr := dovecot.Addr(srv.IMAP)
	p := write(t, "d.lua", fmt.Sprintf(`
local account = require("account")
local acct = account.connect{host = "127.0.0.1", port = %d, tls = "none", user = "sandbox", password = os.getenv("IMAP_PASSWORD")}
print(acct:mailbox("INBOX"):status().messages >= 0)
acct:close()`, srv.IMAP))
	t.Setenv("IMAP_PASSWORD", dovecot.Password)
	for _, mode := range []string{"--sandbox", "--in-process"} {
		args := []string{"run", "--sandbox", "--env", "IMAP_PASSWORD", "--allow-host", addr, p}
		if mode == "--in-process" {
			args = append([]string{"run", "--in-process"}, args[1:]...)
		}
		out, errs, code := mailscript(t, "", args...)
		if code != 0 || out != "true\n" {
			t.Fatalf("%s: %d %q %q", mode, code, out, errs)
		}
		_, errs, code = mailscript(t, "", append(args[:len(args)-3:len(args)-3], "--allow-host", "imap.example.org", p)...)
		if code != 1 || !strings.Contains(errs, addr+" is not an allowed host: add --allow-host "+addr) {
			t.Fatalf("%s: %d %q", mode, code, errs)
		}
	}
}
