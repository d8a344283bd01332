package quickack

import (
	"bufio"
	"crypto/tls"
	"net"
	"runtime"
	"testing"
)

func TestForTCPOnly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	onLinux := runtime.GOOS == "linux"
	if f := For(c); (f != nil) != onLinux {
		t.Fatalf("TCP: %v", f != nil)
	}
	if f := For(tls.Client(c, &tls.Config{InsecureSkipVerify: true})); (f != nil) != onLinux {
		t.Fatalf("TLS over TCP: %v", f != nil)
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if For(a) != nil {
		t.Fatal("a pipe is not TCP")
	}
	if f := For(c); f != nil {
		f() // on a live socket: no panic, no error to report
	}
}

// BenchmarkPipelinedNagleServer: two commands in one segment, answered
// by a server with Nagle on in two writes (as Cyrus answers). Without
// quick ACKs each batch waits for the client's delayed ACK (about 40 ms
// on Linux); compare -bench with and without (the "off" case).
func BenchmarkPipelinedNagleServer(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.(*net.TCPConn).SetNoDelay(false)
		r := bufio.NewReader(c)
		for {
			for range 2 { // both commands, then the replies in two writes
				if _, err := r.ReadString('\n'); err != nil {
					return
				}
			}
			c.Write([]byte("* STATUS x (UIDNEXT 1)\r\na OK\r\n"))
			c.Write([]byte("* SEARCH 1\r\nb OK\r\n"))
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for _, mode := range []string{"on", "off"} {
		b.Run(mode, func(b *testing.B) {
			ack := For(c)
			if mode == "off" {
				ack = nil
			}
			r := bufio.NewReader(readFunc(func(p []byte) (int, error) {
				if ack != nil {
					ack()
				}
				return c.Read(p)
			}))
			for b.Loop() {
				c.Write([]byte("a STATUS x (UIDNEXT)\r\nb UID SEARCH ALL\r\n"))
				for range 4 {
					if _, err := r.ReadString('\n'); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

type readFunc func([]byte) (int, error)

func (f readFunc) Read(p []byte) (int, error) { return f(p) }
