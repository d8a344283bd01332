// Package faultproxy is a TCP proxy for tests that injects the network
// faults a long-running client meets: connections cut with RST or FIN, a
// NAT that silently drops packets (a stall), latency, and refused
// connections.
package faultproxy

import (
	"net"
	"sync"
	"time"
)

// Proxy forwards every connection made to Addr to its target.
type Proxy struct {
	Addr   string // 127.0.0.1:port
	target string
	ln     net.Listener

	mu      sync.Mutex
	conns   map[*pair]struct{}
	stalled bool
	resume  chan struct{} // closed when a stall ends
	delay   time.Duration
	refuse  bool
	closed  bool
	wg      sync.WaitGroup
}

// pair is one client connection and its upstream.
type pair struct{ client, server *net.TCPConn }

// New listens on 127.0.0.1:0 and forwards to target (host:port).
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{Addr: ln.Addr().String(), target: target, ln: ln, conns: map[*pair]struct{}{}, resume: make(chan struct{})}
	close(p.resume)
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Port is Addr's port.
func (p *Proxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse := p.refuse
		p.mu.Unlock()
		if refuse {
			rst(c.(*net.TCPConn))
			continue
		}
		p.wg.Add(1)
		go p.serve(c.(*net.TCPConn))
	}
}

func (p *Proxy) serve(c *net.TCPConn) {
	defer p.wg.Done()
	// a stalled proxy takes the connection but does not connect on: the
	// client's handshake goes unanswered
	if !p.waitStall(nil) {
		c.Close()
		return
	}
	s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		rst(c) // the server is down: the client sees a refusal
		return
	}
	pr := &pair{client: c, server: s.(*net.TCPConn)}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.Close()
		s.Close()
		return
	}
	p.conns[pr] = struct{}{}
	p.mu.Unlock()
	var both sync.WaitGroup
	both.Add(2)
	go func() { defer both.Done(); p.copy(pr, pr.server, pr.client) }()
	go func() { defer both.Done(); p.copy(pr, pr.client, pr.server) }()
	both.Wait()
	p.mu.Lock()
	delete(p.conns, pr)
	p.mu.Unlock()
}

// copy forwards src to dst chunk by chunk, each after the stall (if any)
// and the delay; when either side ends, both close.
func (p *Proxy) copy(pr *pair, dst, src *net.TCPConn) {
	defer pr.client.Close()
	defer pr.server.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.waitStall(pr) {
				return
			}
			p.mu.Lock()
			d := p.delay
			p.mu.Unlock()
			if d > 0 {
				time.Sleep(d)
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // a FIN or RST from one side ends both: IMAP has no half-close
		}
	}
}

// waitStall blocks while the proxy is stalled; false when the proxy or
// pr (if not nil) was closed meanwhile.
func (p *Proxy) waitStall(pr *pair) bool {
	for {
		p.mu.Lock()
		stalled, resume, closed := p.stalled, p.resume, p.closed
		_, open := p.conns[pr]
		p.mu.Unlock()
		if closed || (pr != nil && !open) {
			return false
		}
		if !stalled {
			return true
		}
		select {
		case <-resume:
		case <-time.After(100 * time.Millisecond): // a Reset or Close of pr meanwhile
		}
	}
}

// take removes and returns every open connection.
func (p *Proxy) take() []*pair {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*pair
	for pr := range p.conns {
		out = append(out, pr)
		delete(p.conns, pr)
	}
	return out
}

// rst closes c with an RST instead of a FIN.
func rst(c *net.TCPConn) {
	_ = c.SetLinger(0)
	_ = c.Close()
}

// Reset cuts every open connection with RST on both sides; it returns
// how many it cut.
func (p *Proxy) Reset() int {
	prs := p.take()
	for _, pr := range prs {
		rst(pr.client)
		rst(pr.server)
	}
	return len(prs)
}

// Cut closes every open connection with FIN on both sides (the proxy
// stays open for new ones); it returns how many it closed.
func (p *Proxy) Cut() int {
	prs := p.take()
	for _, pr := range prs {
		pr.client.Close()
		pr.server.Close()
	}
	return len(prs)
}

// Stall stops (on) or resumes (off) forwarding in both directions,
// without closing anything, as a NAT that drops packets silently; new
// connections are accepted and stall too.
func (p *Proxy) Stall(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on == p.stalled {
		return
	}
	p.stalled = on
	if on {
		p.resume = make(chan struct{})
	} else {
		close(p.resume)
	}
}

// Delay adds d of latency before each forwarded chunk (0: none).
func (p *Proxy) Delay(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
}

// Refuse makes new connections fail (on: accepted and reset at once, as
// a closed port answers) or succeed again (off).
func (p *Proxy) Refuse(on bool) {
	p.mu.Lock()
	p.refuse = on
	p.mu.Unlock()
}

// Open is the number of connections being forwarded.
func (p *Proxy) Open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Close stops listening and closes every connection with FIN; it waits
// for the proxy's goroutines to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	err := p.ln.Close()
	p.Cut()
	p.Stall(false)
	p.wg.Wait()
	return err
}
