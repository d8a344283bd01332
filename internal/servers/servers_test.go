package servers

import (
	"context"
	"testing"

	"github.com/mailscript/mailscript/internal/mailgen"
)

func TestMain(m *testing.M) { Main(m) }

// Seeded mail is where Folder says, with UIDs a later session keeps
// (Courier renumbers what an EXAMINE saw first unless a SELECT stored it).
func TestSeed(t *testing.T) {
	Each(t, func(t *testing.T, s *Server) {
		u := s.User(t, "seed-"+t.Name())
		var msgs []mailgen.Message
		for i := 0; i < 4; i++ {
			msgs = append(msgs, mailgen.New(2).Message(i))
		}
		s.Seed(t, u, "", msgs[:3])
		s.Seed(t, u, "Lists/go", msgs[3:])
		ctx := context.Background()
		c := s.Dial(t, u)
		if _, _, err := c.Append(ctx, "INBOX", "", "", []byte("Subject: later\r\n\r\nx\r\n")); err != nil {
			t.Fatal(err)
		}
		c.Select(ctx, "INBOX", true)
		_, got, err := c.Fetch(ctx, "1:*", "(UID)", false)
		if err != nil || len(got) != 4 || got[3].UID != 4 {
			t.Fatalf("INBOX: %v %+v", err, got)
		}
		res, st, err := c.Select(ctx, s.Folder("Lists/go"), true)
		if err != nil || res.Type != "OK" || st.Exists != 1 {
			t.Fatalf("%s: %v %+v", s.Folder("Lists/go"), err, st)
		}
	})
}
