package sieve

import (
	"bufio"
	"bytes"
	"mime"
	"strings"
	"time"

	"github.com/mailscript/mailscript/protocol/imap"
)

// Field is one header field as it appears in the message.
type Field struct {
	Name  string
	Value string // raw, folded as received, without the CRLF that ends it
}

// Message is what a script sees of one message. Header is needed; Body is read only when a
// body test asks for it.
type Message struct {
	Header []Field
	Body   func() ([]byte, error) // the raw body after the header's blank line
	Size   int64                  // RFC 822 size in octets
	Flags  []string               // the message's current flags
	Date   time.Time              // internal date, for "date" fallbacks; may be zero
}

// Envelope is the SMTP envelope; over IMAP there is none (RFC 6785 §4.6).
type Envelope struct {
	From string
	To   string
	Auth string
}

// ParseMessage reads a raw RFC 5322 message (LF or CRLF line ends).
func ParseMessage(raw []byte) (*Message, error) {
	hdr, body := splitMessage(raw)
	m := &Message{Size: int64(len(raw)), Header: parseFields(hdr)}
	b := body
	m.Body = func() ([]byte, error) { return b, nil }
	return m, nil
}

func splitMessage(raw []byte) (hdr, body []byte) {
	if bytes.HasPrefix(raw, []byte("\r\n")) {
		return nil, raw[2:]
	}
	if bytes.HasPrefix(raw, []byte("\n")) {
		return nil, raw[1:]
	}
	i := bytes.Index(raw, []byte("\n\r\n"))
	j := bytes.Index(raw, []byte("\n\n"))
	switch {
	case i >= 0 && (j < 0 || i < j):
		return raw[:i+1], raw[i+3:]
	case j >= 0:
		return raw[:j+1], raw[j+2:]
	}
	return raw, nil
}

func parseFields(hdr []byte) []Field {
	var out []Field
	sc := bufio.NewScanner(bytes.NewReader(hdr))
	sc.Buffer(make([]byte, 0, 4096), len(hdr)+1)
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if line == "" {
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && len(out) > 0 {
			out[len(out)-1].Value += "\r\n" + line
			continue
		}
		i := strings.IndexByte(line, ':')
		if i <= 0 {
			continue // not a header field; Pigeonhole skips these too
		}
		out = append(out, Field{Name: strings.TrimRight(line[:i], " \t"), Value: line[i+1:]})
	}
	return out
}

// unfold removes folding and trims surrounding whitespace (RFC 5228 §5.7).
func unfold(v string) string {
	v = strings.ReplaceAll(v, "\r\n", "")
	v = strings.ReplaceAll(v, "\n", "")
	return strings.Trim(v, " \t")
}

var wordDecoder = &mime.WordDecoder{CharsetReader: imap.CharsetReader}

// decodeHeader decodes RFC 2047 encoded words; undecodable text stays as it is.
func decodeHeader(v string) string {
	if !strings.Contains(v, "=?") {
		return v
	}
	out, err := wordDecoder.DecodeHeader(v)
	if err != nil {
		return v
	}
	return out
}

// part is one MIME body part, for the body test (RFC 5173).
type part struct {
	ctype     string // lower-case type/subtype
	params    map[string]string
	header    []Field
	body      []byte // decoded content (transfer encoding removed) for leaves
	multi     bool   // multipart or message/rfc822: body holds no content
	pro, epi  []byte // a multipart's prologue and epilogue
	rawHeader []byte // a message/rfc822's nested header
}

const maxParts = 1000
const maxPartDepth = 20

// bodyParts lists the message's body parts in order, parents before children.
func bodyParts(hdr []Field, body []byte) []part {
	var out []part
	var walk func(h []Field, b []byte, depth int, defType string)
	walk = func(h []Field, b []byte, depth int, defType string) {
		if len(out) >= maxParts {
			return
		}
		ct := defType
		params := map[string]string{}
		if v, ok := firstField(h, "content-type"); ok {
			if t, p, err := mime.ParseMediaType(unfold(v)); err == nil {
				ct, params = strings.ToLower(t), p
			} else {
				ct = "application/octet-stream" // unreadable: not text (Pigeonhole agrees)
			}
		}
		p := part{ctype: ct, params: params, header: h}
		if strings.HasPrefix(ct, "multipart/") && params["boundary"] != "" && depth < maxPartDepth {
			pro, kids, epi := splitMultipart(b, params["boundary"])
			p.multi, p.pro, p.epi = true, pro, epi
			out = append(out, p)
			def := "text/plain"
			if ct == "multipart/digest" {
				def = "message/rfc822"
			}
			for _, k := range kids {
				kh, kb := splitMessage(k)
				walk(parseFields(kh), kb, depth+1, def)
			}
			return
		}
		if ct == "message/rfc822" && depth < maxPartDepth {
			h2, b2 := splitMessage(b)
			p.multi, p.rawHeader = true, h2
			out = append(out, p)
			walk(parseFields(h2), b2, depth+1, "text/plain")
			return
		}
		p.body = decodeTransfer(h, b)
		out = append(out, p)
	}
	walk(hdr, body, 0, "text/plain")
	return out
}

// splitMultipart cuts a multipart body at its boundary lines (RFC 2046 §5.1.1); the CRLF
// before a boundary line belongs to it.
func splitMultipart(b []byte, boundary string) (pro []byte, parts [][]byte, epi []byte) {
	delim := []byte("--" + boundary)
	start := -1 // start of the current part's content, -1 before the first boundary
	pos := 0
	for pos <= len(b) {
		end := bytes.IndexByte(b[pos:], '\n')
		lineEnd := len(b)
		next := len(b) + 1
		if end >= 0 {
			lineEnd = pos + end
			next = lineEnd + 1
		}
		line := bytes.TrimRight(b[pos:lineEnd], "\r")
		if bytes.HasPrefix(line, delim) {
			rest := line[len(delim):]
			closing := bytes.HasPrefix(rest, []byte("--"))
			if closing {
				rest = rest[2:]
			}
			if len(bytes.Trim(rest, " \t")) == 0 {
				cut := pos
				if cut > 0 && b[cut-1] == '\n' {
					cut--
					if cut > 0 && b[cut-1] == '\r' {
						cut--
					}
				}
				if start < 0 {
					pro = b[:cut]
				} else {
					parts = append(parts, b[start:cut])
				}
				if len(parts) >= maxParts {
					return pro, parts, nil
				}
				if closing {
					if next <= len(b) {
						epi = b[next:]
					}
					return pro, parts, epi
				}
				start = min(next, len(b))
			}
		}
		pos = next
	}
	if start < 0 {
		return b, nil, nil
	}
	return pro, append(parts, b[start:]), nil
}

func firstField(h []Field, name string) (string, bool) {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return f.Value, true
		}
	}
	return "", false
}

func decodeTransfer(h []Field, b []byte) []byte {
	enc, _ := firstField(h, "content-transfer-encoding")
	switch strings.ToLower(unfold(enc)) {
	case "base64":
		return decodeBase64(b)
	case "quoted-printable":
		return decodeQP(b)
	case "", "7bit", "8bit", "binary":
		return b
	}
	return nil // an unknown encoding: the content cannot be read
}

func decodeBase64(b []byte) []byte {
	var clean []byte
	for _, c := range b {
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' {
			clean = append(clean, c)
		}
	}
	out := make([]byte, 0, len(clean)*3/4)
	var acc uint32
	n := 0
	for _, c := range clean {
		var v byte
		switch {
		case c >= 'A' && c <= 'Z':
			v = c - 'A'
		case c >= 'a' && c <= 'z':
			v = c - 'a' + 26
		case c >= '0' && c <= '9':
			v = c - '0' + 52
		case c == '+':
			v = 62
		default:
			v = 63
		}
		acc = acc<<6 | uint32(v)
		n++
		if n == 4 {
			out = append(out, byte(acc>>16), byte(acc>>8), byte(acc))
			acc, n = 0, 0
		}
	}
	switch n {
	case 2:
		out = append(out, byte(acc>>4))
	case 3:
		out = append(out, byte(acc>>10), byte(acc>>2))
	}
	return out
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	}
	return -1
}

func decodeQP(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '=' {
			out = append(out, c)
			continue
		}
		if i+1 < len(b) && b[i+1] == '\n' {
			i++
			continue
		}
		if i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
			i += 2
			continue
		}
		if i+2 < len(b) {
			if hi, lo := unhex(b[i+1]), unhex(b[i+2]); hi >= 0 && lo >= 0 {
				out = append(out, byte(hi<<4|lo))
				i += 2
				continue
			}
		}
		out = append(out, c)
	}
	return out
}
