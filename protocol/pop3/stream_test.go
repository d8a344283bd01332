package pop3

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mailscript/mailscript/internal/dovecot"
	"github.com/mailscript/mailscript/internal/mailgen"
)

// lockstep is a server without PIPELINING that records every line and
// fails the test when a command arrives before the previous reply went.
func lockstep(t *testing.T) (addr string, sent <-chan string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ch := make(chan string, 100)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(c, "+OK lockstep\r\n")
		r := bufio.NewReader(c)
		for {
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			line, err := r.ReadString('\n')
			if err != nil {
				close(ch)
				return
			}
			// a client that waits for the reply has sent nothing more
			time.Sleep(20 * time.Millisecond)
			c.SetReadDeadline(time.Now().Add(time.Millisecond))
			if _, err := r.Peek(1); err == nil {
				ch <- "SENT AHEAD OF " + line
			}
			ch <- line
			verb, arg, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
			switch verb {
			case "RETR":
				fmt.Fprintf(c, "+OK message follows\r\nSubject: %s\r\n\r\n..dot\r\nbody\r\n.\r\n", arg)
			case "DELE":
				io.WriteString(c, "+OK marked\r\n")
			default:
				io.WriteString(c, "-ERR what\r\n")
			}
		}
	}()
	return l.Addr().String(), ch
}

// Without PIPELINING: one command at a time, DELE in order with RETR,
// the exact bytes.
func TestStreamWithoutPipeliningOneAtATime(t *testing.T) {
	addr, sent := lockstep(t)
	c, err := Dial(bg, addr, &Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := c.Stream(StreamOptions{Nums: []int{1, 2, 3}, Top: -1, Window: 10})
	for i := 1; i <= 3; i++ {
		m, err := s.Next(bg)
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("Subject: %d\r\n\r\n.dot\r\nbody\r\n", i)
		if m == nil || m.Num != i || string(m.Raw) != want {
			t.Fatalf("message %d: %+v", i, m)
		}
		if i < 3 {
			s.Dele(i)
		}
	}
	if m, err := s.Next(bg); m != nil || err != nil {
		t.Fatalf("after the last: %v %v", m, err)
	}
	c.Close()
	var got []string
	for l := range sent {
		got = append(got, l)
	}
	want := []string{"RETR 1\r\n", "DELE 1\r\n", "RETR 2\r\n", "DELE 2\r\n", "RETR 3\r\n"}
	if strings.Join(got, "") != strings.Join(want, "") {
		t.Fatalf("sent %q, want %q", got, want)
	}
}

// With PIPELINING the window bounds what is outstanding, and the heap
// holds one message, not the window's: the replies not read wait in the
// socket. 200 messages of 100 KB on Dovecot.
func TestStreamWindowAndHeapBound(t *testing.T) {
	const n, size = 200, 100 << 10
	srv := dovecot.Shared(t)
	md, err := srv.Maildir(userName(t))
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Repeat("x", 76) + "\r\n"
	body := strings.Repeat(line, size/len(line))
	msgs := make([]mailgen.Message, n)
	for i := range msgs {
		msgs[i] = mailgen.Message{Raw: []byte(fmt.Sprintf("Subject: big %d\r\n\r\n%s", i+1, body)), Date: time.Unix(1e9+int64(i), 0)}
	}
	if err := mailgen.WriteMessages(md, msgs, 0, 1, srv.Chown); err != nil {
		t.Fatal(err)
	}
	c := login(t)
	defer c.Quit(bg)
	caps, err := c.Capa(bg)
	if err != nil {
		t.Fatal(err)
	}
	_, pipelining := caps["PIPELINING"]
	if !pipelining {
		t.Fatal("Dovecot advertises PIPELINING")
	}
	nums := make([]int, n)
	for i := range nums {
		nums[i] = i + 1
	}
	const window = 16
	s := c.Stream(StreamOptions{Nums: nums, Top: -1, Window: window, Pipelining: true})
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapAlloc, uint64(0)
	for i := 1; ; i++ {
		m, err := s.Next(bg)
		if err != nil {
			t.Fatal(err)
		}
		if m == nil {
			if i != n+1 {
				t.Fatalf("%d messages, want %d", i-1, n)
			}
			break
		}
		if m.Num != i || !strings.HasPrefix(string(m.Raw), fmt.Sprintf("Subject: big %d\r\n", i)) {
			t.Fatalf("message %d out of order: %d %q", i, m.Num, m.Raw[:20])
		}
		if o := s.Outstanding(); o > window {
			t.Fatalf("%d commands outstanding, window %d", o, window)
		}
		if i == 2 && s.Outstanding() < 2 {
			t.Fatalf("only %d outstanding: not pipelined", s.Outstanding())
		}
		if i%10 == 0 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}
	// one message and its buffer, the read buffer: well under the 20 MB mailbox
	if grown := int64(peak) - int64(base); grown > 1<<20 {
		t.Fatalf("heap grew %d KB while streaming %d KB", grown>>10, n*size>>10)
	}
}
