package runtime

import (
	"bufio"
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
)

// A run's POP3 replies are bounded by its memory budget: an endless RETR
// fails with the POP3 reply cap (half the budget), not after the
// watchdog saw the heap pass the budget.
func TestPOP3RepliesWithinBudget(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(c, "+OK ready\r\n")
		r := bufio.NewReader(c)
		if _, err := r.ReadString('\n'); err != nil {
			return
		}
		io.WriteString(c, "+OK\r\n")
		block := strings.Repeat("an endless message line\r\n", 4096)
		for {
			if _, err := io.WriteString(c, block); err != nil {
				return
			}
		}
	}()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	rt := New(Options{MaxMemory: 32 << 20})
	_, err = rt.RunString(context.Background(), "pop3.lua", `
local pop3 = require("pop3")
local P = pop3.POP3("127.0.0.1", `+port+`)
P:retr(1)`)
	want := "reply larger than " + strconv.Itoa(16<<20) + " bytes"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want %q", err, want)
	}
}
