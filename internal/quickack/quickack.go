// Package quickack turns off delayed ACKs on a client's TCP connection
// before each read.
//
// A client that pipelines commands sends them in one segment and then
// only reads. A server that writes its replies in several small writes
// without TCP_NODELAY (Cyrus does) holds each write after the first
// until the first is acknowledged (Nagle), and the client's kernel
// delays that ACK by up to 40 ms: every pipelined batch then costs 40
// ms. Linux's TCP_QUICKACK acknowledges at once, but only until the
// kernel decides otherwise, so it is set again before every read.
package quickack

import (
	"crypto/tls"
	"net"
)

// For returns what to call before each read from c, or nil where there
// is nothing to do (not TCP, not Linux).
func For(c net.Conn) func() {
	if t, ok := c.(*tls.Conn); ok {
		c = t.NetConn()
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return set(rc)
}
