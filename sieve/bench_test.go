package sieve

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkRun50Rules evaluates a header-only script of 50 rules on a parsed message (the
// issue's target: 50,000 messages a second).
func BenchmarkRun50Rules(b *testing.B) {
	var src strings.Builder
	src.WriteString(`require ["fileinto", "imap4flags", "variables"];` + "\n")
	for i := 0; i < 50; i++ {
		switch i % 5 {
		case 0:
			fmt.Fprintf(&src, "if header :contains \"list-id\" \"list%d.example.org\" { fileinto \"Lists/%d\"; stop; }\n", i, i)
		case 1:
			fmt.Fprintf(&src, "if address :domain :is \"from\" \"sender%d.example\" { addflag \"$S%d\"; }\n", i, i)
		case 2:
			fmt.Fprintf(&src, "if header :matches \"subject\" \"*[topic%d]*\" { fileinto \"T/${2}\"; }\n", i)
		case 3:
			fmt.Fprintf(&src, "if anyof (header :is \"x-mailer\" \"m%d\", exists \"x-flag-%d\") { discard; }\n", i, i)
		case 4:
			fmt.Fprintf(&src, "if size :over %dK { addflag \"$Big\"; }\n", 100+i)
		}
	}
	s, err := Compile([]byte(src.String()), nil)
	if err != nil {
		b.Fatal(err)
	}
	m, _ := ParseMessage([]byte("From: Alice <alice@example.org>\r\nTo: bob@example.com\r\nSubject: a note about nothing in particular\r\nList-Id: <other.example.org>\r\nX-Mailer: x\r\nDate: Tue, 1 Dec 2026 10:00:00 +0100\r\n\r\nbody\r\n"))
	env := &Env{Mailbox: "INBOX"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := s.Run(m, env); r.ImplicitKeep == nil {
			b.Fatal("no implicit keep")
		}
	}
}
