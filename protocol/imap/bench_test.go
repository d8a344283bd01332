package imap

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/mailscript/mailscript/internal/mailgen"
)

// Parser micro-benchmarks: MB/s and allocations per FETCH response.

func fetchStream(n int, withBody bool) []byte {
	g := mailgen.New(1)
	var b bytes.Buffer
	for i := 1; i <= n; i++ {
		m := g.Message(i)
		hdr := m.Raw[:bytes.Index(m.Raw, []byte("\r\n\r\n"))+4]
		fmt.Fprintf(&b, `* %d FETCH (UID %d FLAGS (\Seen) RFC822.SIZE %d INTERNALDATE "01-Jan-2024 08:00:00 +0000" ENVELOPE ("Mon, 1 Jan 2024 08:00:00 +0000" "=?UTF-8?Q?caf=C3=A9?= %d" (("Alice" NIL "alice" "example.com")) (("Alice" NIL "alice" "example.com")) (("Alice" NIL "alice" "example.com")) ((NIL NIL "bob" "example.org")) NIL NIL NIL "<%d@x>")`, i, i, len(m.Raw), i, i)
		if withBody {
			fmt.Fprintf(&b, " BODY[HEADER] {%d}\r\n%s", len(hdr), hdr)
		}
		b.WriteString(")\r\n")
	}
	return b.Bytes()
}

func benchParse(b *testing.B, withBody, decode bool) {
	const n = 1000
	data := fetchStream(n, withBody)
	b.SetBytes(int64(len(data)) / n)
	b.ReportAllocs()
	b.ResetTimer()
	var c *Client
	for i := 0; i < b.N; i++ {
		if i%n == 0 {
			c = newClient(byteConn{bytes.NewReader(data)}, "", withDefaults(nil))
		}
		r, err := c.readResponse()
		if err != nil {
			b.Fatal(err)
		}
		if decode {
			if _, err := decodeFetch(r, 0, false); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkReadFetch frames FETCH responses with a header literal.
func BenchmarkReadFetch(b *testing.B) { benchParse(b, true, false) }

// BenchmarkDecodeFetch frames and decodes them (ENVELOPE, header literal).
func BenchmarkDecodeFetch(b *testing.B) { benchParse(b, true, true) }

// BenchmarkDecodeEnvelopeOnly is W2's shape: UID FLAGS ENVELOPE RFC822.SIZE.
func BenchmarkDecodeEnvelopeOnly(b *testing.B) { benchParse(b, false, true) }
