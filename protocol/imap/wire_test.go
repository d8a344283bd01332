package imap

import (
	"bytes"
	"errors"
	"net"
	"testing"
)

// An idle connection keeps small buffers; a busy one grows them to
// maxBuf and no further; what is read is unchanged either way.
func TestBuffersStartSmallAndGrowWhenBusy(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	r := newReader(b, DefaultMaxLine)
	go a.Write([]byte("* OK hi\r\n"))
	if line, err := r.readLine(); err != nil || string(line) != "* OK hi\r\n" {
		t.Fatalf("%q %v", line, err)
	}
	if len(r.buf) != minBuf {
		t.Fatalf("buffer %d bytes after a greeting, want %d", len(r.buf), minBuf)
	}
	body := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	go func() { a.Write(body) }()
	got, err := r.readFull(int64(len(body)))
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("read %d bytes of %d: %v", len(got), len(body), err)
	}
	if len(r.buf) != maxBuf {
		t.Fatalf("buffer %d bytes after 1 MiB, want %d", len(r.buf), maxBuf)
	}

	var writes [][]byte
	s := &sendBuf{write: func(p []byte) (int, error) { writes = append(writes, bytes.Clone(p)); return len(p), nil }}
	s.WriteString("a1 NOOP\r\n")
	s.WriteString("a2 NOOP\r\n")
	if err := s.Flush(); err != nil || len(writes) != 1 || string(writes[0]) != "a1 NOOP\r\na2 NOOP\r\n" {
		t.Fatalf("%q %v", writes, err)
	}
	if cap(s.b) > 64 {
		t.Fatalf("send buffer holds %d bytes for two NOOPs", cap(s.b))
	}
	writes = nil
	s.WriteString("a3 APPEND x {1048576}\r\n")
	s.Write(body)
	s.Flush()
	if len(writes) != 2 || len(writes[1]) != len(body) || cap(s.b) > maxBuf {
		t.Fatalf("%d writes, send buffer %d bytes", len(writes), cap(s.b))
	}
}

func TestSendBufErrorSticks(t *testing.T) {
	fail := errors.New("broken pipe")
	n := 0
	s := &sendBuf{write: func(p []byte) (int, error) { n++; return 0, fail }}
	s.WriteString("a1 NOOP\r\n")
	if err := s.Flush(); err != fail {
		t.Fatalf("Flush: %v", err)
	}
	if _, err := s.WriteString("a2 NOOP\r\n"); err != fail {
		t.Fatalf("WriteString after a failure: %v", err)
	}
	if err := s.Flush(); err != fail || n != 1 {
		t.Fatalf("Flush after a failure: %v, %d writes", err, n)
	}
}
