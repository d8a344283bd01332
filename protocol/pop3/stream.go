package pop3

import (
	"context"
	"strconv"
)

// DefaultWindow is how many commands a [Stream] keeps outstanding when
// the server pipelines: at a 10 ms round trip, 64 messages per round trip.
const DefaultWindow = 64

// StreamOptions configure [Client.Stream].
type StreamOptions struct {
	Nums []int // the messages to retrieve, in this order
	// Top, when >= 0, retrieves the header and this many body lines (TOP)
	// instead of the whole message (RETR).
	Top int
	// Window bounds the commands outstanding at once (default
	// DefaultWindow). Without Pipelining it is 1: one command at a time.
	Window     int
	Pipelining bool // the server advertised PIPELINING (RFC 2449)
}

// Message is one message a [Stream] retrieved: its lines dot-unstuffed
// and joined with CRLF, each line ending kept as CRLF.
type Message struct {
	Num    int
	Resp   string
	Raw    []byte // valid until the next call of Next
	Octets int    // poplib's count
}

type pending struct {
	dele bool
	num  int
}

// Stream retrieves messages with RETR (or TOP), sending up to a window
// of commands ahead of the replies read when the server pipelines, and
// reading each reply only when the caller asks for the next message: the
// replies not read yet wait in the socket, so memory is one message and
// the read buffer whatever the window. DELE goes only when asked (after
// the caller has handled a message), in order with the retrievals; like
// every DELE it takes effect at QUIT.
type Stream struct {
	c     *Client
	o     StreamOptions
	next  int // index into o.Nums of the next message to request
	out   []pending
	deles []int // asked for, not sent yet
	buf   []byte
	wbuf  []byte
	err   error
}

// Stream starts retrieving o.Nums; nothing is sent before the first Next.
func (c *Client) Stream(o StreamOptions) *Stream {
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if !o.Pipelining {
		o.Window = 1
	}
	return &Stream{c: c, o: o}
}

// Dele asks for DELE of message num, sent with the next commands.
func (s *Stream) Dele(num int) { s.deles = append(s.deles, num) }

// fill sends what the window allows: asked-for DELEs first, then
// retrievals, in one write.
func (s *Stream) fill() error {
	s.wbuf = s.wbuf[:0]
	add := func(p pending) {
		var line string
		switch {
		case p.dele:
			line = "DELE " + strconv.Itoa(p.num)
		case s.o.Top >= 0:
			line = "TOP " + strconv.Itoa(p.num) + " " + strconv.Itoa(s.o.Top)
		default:
			line = "RETR " + strconv.Itoa(p.num)
		}
		s.c.logCmd(line)
		s.wbuf = append(append(s.wbuf, line...), '\r', '\n')
		s.out = append(s.out, p)
	}
	for len(s.out) < s.o.Window && len(s.deles) > 0 {
		add(pending{dele: true, num: s.deles[0]})
		s.deles = s.deles[1:]
	}
	for len(s.out) < s.o.Window && s.next < len(s.o.Nums) {
		add(pending{num: s.o.Nums[s.next]})
		s.next++
	}
	if len(s.wbuf) == 0 {
		return nil
	}
	return s.c.write(s.wbuf)
}

// Next returns the next message; nil and nil when every one was read
// and every DELE asked for answered. A "-ERR" to a RETR or DELE is an
// [*Error] naming the command (the stream goes on after it); a network
// failure ends the stream and the connection.
func (s *Stream) Next(ctx context.Context) (*Message, error) {
	if s.err != nil {
		return nil, s.err
	}
	if err := s.c.usable("RETR"); err != nil {
		return nil, err
	}
	stop := s.c.watch(ctx)
	defer stop()
	for {
		if err := s.fill(); err != nil {
			return nil, s.broke(ctx, "RETR", err, false)
		}
		if len(s.out) == 0 {
			return nil, nil
		}
		p := s.out[0]
		s.out = s.out[1:]
		cmd := "RETR"
		if p.dele {
			cmd = "DELE"
		} else if s.o.Top >= 0 {
			cmd = "TOP"
		}
		s.c.fresh = true // each reply gets the whole timeout
		resp, err := s.c.getResp()
		if err != nil {
			if e, ok := err.(*Error); ok && e.server {
				e.Command = cmd
				return nil, e
			}
			return nil, s.broke(ctx, cmd, err, isTooLong(err))
		}
		if p.dele {
			continue
		}
		hint := sizeHint(resp, s.c.opts.MaxMessage)
		if cap(s.buf) < hint+hint/8 {
			s.buf = make([]byte, 0, hint+hint/8)
		}
		var raw []byte
		// each line costs one byte more: an LF-only line gains a CR
		octets, err := s.c.readLong(s.buf[:0], bodyLines, 1, -1, func(b []byte) []byte {
			b = append(b, '\r', '\n')
			raw = b
			return b
		})
		if err != nil {
			return nil, s.broke(ctx, cmd, err, true)
		}
		if cap(raw) > cap(s.buf) {
			s.buf = raw[:0]
		}
		return &Message{Num: p.num, Resp: resp, Raw: raw, Octets: octets}, nil
	}
}

func (s *Stream) broke(ctx context.Context, cmd string, err error, cut bool) error {
	s.err = s.c.fail(ctx, cmd, err, cut)
	return s.err
}

// Outstanding is how many commands were sent whose replies are unread.
func (s *Stream) Outstanding() int { return len(s.out) }

// Drain sends the DELEs asked for and reads every outstanding reply
// (retrievals thrown away), so the client can send other commands. It
// returns the first DELE failure.
func (s *Stream) Drain(ctx context.Context) error {
	s.o.Nums = s.o.Nums[:s.next] // nothing more to request
	var first error
	for {
		m, err := s.Next(ctx)
		if err != nil {
			if e, ok := err.(*Error); ok && e.server {
				if e.Command == "DELE" && first == nil {
					first = err
				}
				continue
			}
			return err
		}
		if m == nil {
			return first
		}
	}
}
