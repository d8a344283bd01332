package postgres

import (
	"net"
	"testing"

	"github.com/mailscript/mailscript/internal/mailsrv"
)

func TestStartStop(t *testing.T) {
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", mailsrv.Addr(s.Port))
	if err != nil {
		s.Stop()
		t.Fatalf("server not listening: %v", err)
	}
	c.Close()
	dir := s.Dir
	s.Stop()
	mailsrv.CheckGone(t, mailsrv.Addr(s.Port), dir)
}
