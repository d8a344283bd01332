package main

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestReplPrintsTablesShallowly(t *testing.T) {
	out, errs, code := mailscript(t, "{1, \"two\", name = \"x\", sub = {1}, [\"a b\"] = true}\nt = {}\nt\nprint({n = 1}, 3)\n", "repl")
	want := "{1, \"two\", [\"a b\"] = true, name = \"x\", sub = {...}}\n{}\n{n = 1}\t3\n"
	if code != 0 || out != want {
		t.Fatalf("%d %q %q", code, out, errs)
	}
}

func TestReplRunsFileFirst(t *testing.T) {
	p := write(t, "lib.lua", "greeting = 'hello'\nprint('loaded')\n")
	out, errs, code := mailscript(t, "greeting .. ' world'\n", "repl", p)
	if code != 0 || out != "loaded\nhello world\n" {
		t.Fatalf("%d %q %q", code, out, errs)
	}
	_, _, code = mailscript(t, "", "repl", p, p)
	if code != 2 {
		t.Fatal(code)
	}
}

func TestReplHistoryKeepsNoPasswords(t *testing.T) {
	for _, l := range []string{`M:login("me", "hunter2")`, `pw = account.secret("env:X")`, `P:pass_("x")`, `account.connect{password = "x"}`, "   "} {
		if keepInHistory(l) {
			t.Errorf("%q kept", l)
		}
	}
	if !keepInHistory(`inbox:search{unseen = true}`) {
		t.Error("a plain line not kept")
	}
}

// openPTY opens a pseudo-terminal: the controlling side and the
// terminal a child gets as its stdin, stdout and stderr.
func openPTY(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// a size, or line editing takes the terminal for a pipe
	if err := unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 80}); err != nil {
		t.Fatal(err)
	}
	return m, s
}

func TestReplCtrlCDropsTheLine(t *testing.T) {
	m, s := openPTY(t)
	defer m.Close()
	cmd := exec.Command(bin, "repl")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s, s, s
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "XDG_STATE_HOME="+t.TempDir(), "TERM=xterm")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	var mu sync.Mutex
	var out bytes.Buffer
	text := func() string { mu.Lock(); defer mu.Unlock(); return out.String() }
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := m.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	type step struct{ send, wait string }
	for _, st := range []step{{"", "> "}, {"x = 1 +\r", ">> "}, {"\x03", "> "}, {"print(6 * 7)\r", "42"}, {"\x04", ""}} {
		from := len(text())
		if st.send != "" {
			m.Write([]byte(st.send))
		}
		deadline := time.Now().Add(10 * time.Second)
		for st.wait != "" && !strings.Contains(text()[from:], st.wait) {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("no %q after %q:\n%q", st.wait, st.send, text())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	werr := make(chan error, 1)
	go func() { werr <- cmd.Wait() }()
	select {
	case err := <-werr:
		if err != nil {
			t.Fatalf("%v\n%q", err, text())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("the REPL did not quit on Ctrl-D:\n%q", text())
	}
	if !strings.Contains(text(), "Ctrl-C drops the line") || strings.Contains(text(), "syntax error") {
		t.Fatalf("%q", text())
	}
}
