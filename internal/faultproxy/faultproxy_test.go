package faultproxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// greeter greets each connection with "hi\n" and echoes what it reads;
// it counts the connections it took.
func greeter(t *testing.T) (string, *atomic.Int32) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var n atomic.Int32
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			go func() {
				defer c.Close()
				c.Write([]byte("hi\n"))
				io.Copy(c, c)
			}()
		}
	}()
	return l.Addr().String(), &n
}

func start(t *testing.T) (*Proxy, *atomic.Int32) {
	target, n := greeter(t)
	p, err := New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, n
}

// dial connects through p and reads the greeting.
func dial(t *testing.T, p *Proxy) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if l, err := r.ReadString('\n'); err != nil || l != "hi\n" {
		t.Fatalf("greeting %q, %v", l, err)
	}
	return c, r
}

func echo(t *testing.T, c net.Conn, r *bufio.Reader, s string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(s + "\n")); err != nil {
		t.Fatal(err)
	}
	if l, err := r.ReadString('\n'); err != nil || l != s+"\n" {
		t.Fatalf("echo %q, %v", l, err)
	}
}

// waitOpen waits until p forwards n connections.
func waitOpen(t *testing.T, p *Proxy, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for p.Open() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections open, want %d", p.Open(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestResetSendsRST(t *testing.T) {
	p, _ := start(t)
	c, r := dial(t, p)
	echo(t, c, r, "one")
	if n := p.Reset(); n != 1 {
		t.Fatalf("Reset cut %d connections", n)
	}
	_, err := r.ReadString('\n')
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("after Reset: %v, want ECONNRESET", err)
	}
	// the proxy takes new connections
	c2, r2 := dial(t, p)
	echo(t, c2, r2, "two")
}

func TestCutSendsFIN(t *testing.T) {
	p, _ := start(t)
	c, r := dial(t, p)
	echo(t, c, r, "one")
	if n := p.Cut(); n != 1 {
		t.Fatalf("Cut closed %d connections", n)
	}
	if _, err := r.ReadString('\n'); err != io.EOF {
		t.Fatalf("after Cut: %v, want EOF", err)
	}
	waitOpen(t, p, 0)
}

func TestStallHoldsDataWithoutClosing(t *testing.T) {
	p, n := start(t)
	c, r := dial(t, p)
	p.Stall(true)
	if _, err := c.Write([]byte("held\n")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if l, err := r.ReadString('\n'); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read %q, %v during a stall; want nothing", l, err)
	}
	// a new connection is taken but not answered
	c2, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := c2.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a new connection during a stall read: %v", err)
	}
	if n.Load() != 1 {
		t.Fatalf("the server saw %d connections during the stall", n.Load())
	}
	p.Stall(false)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if l, err := r.ReadString('\n'); err != nil || l != "held\n" {
		t.Fatalf("after the stall: %q, %v", l, err)
	}
	r2 := bufio.NewReader(c2)
	c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if l, err := r2.ReadString('\n'); err != nil || l != "hi\n" {
		t.Fatalf("the stalled new connection after the stall: %q, %v", l, err)
	}
}

func TestResetEndsAStalledConnection(t *testing.T) {
	p, _ := start(t)
	c, r := dial(t, p)
	p.Stall(true)
	c.Write([]byte("held\n"))
	p.Reset()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.ReadString('\n'); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("after Reset during a stall: %v", err)
	}
	waitOpen(t, p, 0)
}

func TestDelayAddsLatency(t *testing.T) {
	p, _ := start(t)
	c, r := dial(t, p)
	p.Delay(150 * time.Millisecond)
	t0 := time.Now()
	echo(t, c, r, "slow") // two chunks: there and back
	if d := time.Since(t0); d < 300*time.Millisecond {
		t.Fatalf("echo took %v with 150ms per chunk", d)
	}
}

func TestRefuseRejectsNewConnections(t *testing.T) {
	p, n := start(t)
	p.Refuse(true)
	c, err := net.Dial("tcp", p.Addr)
	if err == nil {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = c.Read(make([]byte, 1))
		c.Close()
	}
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a refused connection: %v", err)
	}
	if n.Load() != 0 {
		t.Fatalf("the server saw %d connections", n.Load())
	}
	p.Refuse(false)
	c2, r2 := dial(t, p)
	echo(t, c2, r2, "back")
}
