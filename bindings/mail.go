package bindings

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"path/filepath"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	"golang.org/x/text/encoding/htmlindex"

	"github.com/mailscript/mailscript/protocol/imap"
)

// The mail module: mail.parse(raw) reads a message (RFC 5322 and MIME)
// into decoded headers, addresses, date, text, HTML and parts;
// mail.new{...} builds one. All decoding is Go's: net/mail, mime,
// mime/multipart, mime/quotedprintable and x/text's charsets.

var addrParser = &mail.AddressParser{WordDecoder: &mime.WordDecoder{CharsetReader: imap.CharsetReader}}

// toUTF8 decodes body bytes in charset; unknown charsets pass through.
// charge is asked for the decoded text first.
func toUTF8(b []byte, charset string, charge func(int64)) []byte {
	cs := strings.ToLower(strings.TrimSpace(charset))
	if cs == "" || cs == "utf-8" || cs == "us-ascii" || cs == "utf8" {
		return b
	}
	enc, err := htmlindex.Get(cs)
	if err != nil {
		return b
	}
	charge(3 * int64(len(b))) // a byte becomes at most three of UTF-8
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		return b
	}
	return out
}

// mimePart is one leaf of a message, decoded.
type mimePart struct {
	contentType string // lower-case, "text/plain"
	params      map[string]string
	disposition string
	filename    string
	body        []byte // transfer encoding undone; text parts converted to UTF-8
	section     string
}

type parsedMail struct {
	header mail.Header
	parts  []mimePart
	raw    []byte
	charge func(int64) // the run's memory budget, asked before each copy
}

// valueSize is what one Lua value costs in a table.
const valueSize = 16

func parseMail(raw []byte, charge func(int64)) (*parsedMail, error) {
	charge(2 * int64(len(raw))) // the header's fields, and the body read whole
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	pm := &parsedMail{header: msg.Header, raw: raw, charge: charge}
	body, _ := io.ReadAll(msg.Body)
	pm.walk(textproto(msg.Header), body, "1", 0)
	return pm, nil
}

// textproto adapts a mail.Header to what walk reads.
func textproto(h mail.Header) func(string) string { return h.Get }

func (pm *parsedMail) walk(get func(string) string, body []byte, section string, depth int) {
	ct := get("Content-Type")
	if ct == "" {
		ct = "text/plain"
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		mt, params = "text/plain", map[string]string{}
	}
	if strings.HasPrefix(mt, "multipart/") && params["boundary"] != "" && depth < 20 {
		pm.charge(int64(len(body))) // the parts' bodies are copies of it
		r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for i := 1; ; i++ {
			p, err := r.NextRawPart()
			if err != nil {
				return
			}
			b, _ := io.ReadAll(p)
			sub := fmt.Sprintf("%s.%d", section, i)
			if section == "1" && depth == 0 {
				sub = fmt.Sprint(i)
			}
			pm.walk(p.Header.Get, b, sub, depth+1)
		}
	}
	part := mimePart{contentType: mt, params: params, section: section}
	cte := strings.ToLower(strings.TrimSpace(get("Content-Transfer-Encoding")))
	if cte == "base64" || cte == "quoted-printable" {
		pm.charge(int64(len(body))) // decoded, a body is no longer
	}
	switch cte {
	case "base64":
		dec, err := io.ReadAll(base64.NewDecoder(base64.StdEncoding, &stripSpace{r: bytes.NewReader(body)}))
		if err == nil || len(dec) > 0 {
			body = dec
		}
	case "quoted-printable":
		if dec, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body))); err == nil || len(dec) > 0 {
			body = dec
		}
	}
	if disp, dparams, err := mime.ParseMediaType(get("Content-Disposition")); err == nil {
		part.disposition = disp
		part.filename = dparams["filename"]
	}
	if part.filename == "" {
		part.filename = params["name"]
	}
	part.filename = imap.DecodeHeader(part.filename)
	if strings.HasPrefix(mt, "text/") {
		body = toUTF8(body, params["charset"], pm.charge)
	}
	part.body = body
	pm.parts = append(pm.parts, part)
}

// stripSpace drops line breaks and spaces inside base64 bodies.
type stripSpace struct{ r io.Reader }

func (s *stripSpace) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	j := 0
	for _, c := range p[:n] {
		if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
			p[j] = c
			j++
		}
	}
	return j, err
}

// firstText is the first text/subtype part's body, as a string the run's
// memory budget (charge) was asked for.
func (pm *parsedMail) firstText(subtype string, charge func(int64)) (string, bool) {
	for _, p := range pm.parts {
		if p.contentType == "text/"+subtype && p.disposition != "attachment" {
			charge(int64(len(p.body)))
			return string(p.body), true
		}
	}
	return "", false
}

func decodeHeader(s string) string { return imap.DecodeHeader(s) }

func addressTable(L *lua.LState, s string) *lua.LTable {
	t := L.NewTable()
	if strings.TrimSpace(s) == "" {
		return t
	}
	list, err := addrParser.ParseList(s)
	if err != nil {
		// keep what can be kept: the raw text as one address
		e := L.NewTable()
		e.RawSetString("name", lua.LString(""))
		e.RawSetString("address", lua.LString(strings.TrimSpace(s)))
		t.Append(e)
		return t
	}
	for _, a := range list {
		e := L.NewTable()
		e.RawSetString("name", lua.LString(a.Name))
		e.RawSetString("address", lua.LString(a.Address))
		t.Append(e)
	}
	return t
}

func openMail(L *lua.LState) int {
	mod := L.NewTable()
	L.SetFuncs(mod, map[string]lua.LGFunction{
		"parse":         mailParse,
		"new":           mailNew,
		"decode_header": func(L *lua.LState) int { L.Push(lua.LString(decodeHeader(L.CheckString(1)))); return 1 },
		"parse_addresses": func(L *lua.LState) int {
			L.Push(addressTable(L, L.CheckString(1)))
			return 1
		},
		"parse_date": func(L *lua.LState) int {
			t, err := mail.ParseDate(L.CheckString(1))
			if err != nil {
				L.Push(lua.LNil)
				L.Push(lua.LString(err.Error()))
				return 2
			}
			L.Push(lua.LNumber(t.Unix()))
			return 1
		},
		"format_date": func(L *lua.LState) int {
			t := time.Now()
			if n, ok := L.Get(1).(lua.LNumber); ok {
				t = time.Unix(int64(n), 0)
			}
			L.Push(lua.LString(t.Format(time.RFC1123Z)))
			return 1
		},
	})
	L.Push(mod)
	return 1
}

// mailParse is mail.parse(raw): a table of decoded fields, with methods
// text(), html(), parts(), attachments() and header(name).
func mailParse(L *lua.LState) int {
	raw := L.CheckString(1)
	chargeL := func(n int64) { charge(L, n) }
	charge(L, int64(len(raw)))
	pm, err := parseMail([]byte(raw), chargeL)
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString("mail.parse: " + err.Error()))
		return 2
	}
	h := pm.header
	var size int64
	for k, vs := range h {
		for _, v := range vs {
			size += int64(len(k)+2*len(v)) + valueSize
		}
	}
	charge(L, 2*size) // decoded, and again in the fields below
	t := L.NewTable()
	headers := L.NewTable()
	for k, vs := range h {
		list := L.NewTable()
		for _, v := range vs {
			list.Append(lua.LString(decodeHeader(v)))
		}
		headers.RawSetString(strings.ToLower(k), list)
	}
	t.RawSetString("headers", headers)
	t.RawSetString("subject", lua.LString(decodeHeader(h.Get("Subject"))))
	for _, k := range []string{"From", "To", "Cc", "Bcc", "Reply-To", "Sender"} {
		t.RawSetString(strings.ToLower(strings.ReplaceAll(k, "-", "_")), addressTable(L, h.Get(k)))
	}
	t.RawSetString("date_string", lua.LString(h.Get("Date")))
	if d, err := mail.ParseDate(h.Get("Date")); err == nil {
		t.RawSetString("date", lua.LNumber(d.Unix()))
	}
	t.RawSetString("message_id", lua.LString(strings.TrimSpace(h.Get("Message-Id"))))
	t.RawSetString("in_reply_to", lua.LString(strings.TrimSpace(h.Get("In-Reply-To"))))
	t.RawSetString("size", lua.LNumber(len(raw)))
	t.RawSetString("raw", lua.LString(raw))
	t.RawSetString("header", L.NewFunction(func(L *lua.LState) int {
		v := h.Get(L.CheckString(2))
		if v == "" {
			L.Push(lua.LNil)
		} else {
			L.Push(lua.LString(decodeHeader(v)))
		}
		return 1
	}))
	t.RawSetString("text", L.NewFunction(func(L *lua.LState) int {
		ch := func(n int64) { charge(L, n) }
		if s, ok := pm.firstText("plain", ch); ok {
			L.Push(lua.LString(s))
		} else if s, ok := pm.firstText("html", ch); ok {
			charge(L, 3*int64(len(s))) // the text, its replacements and fields
			L.Push(lua.LString(htmlToText(s)))
		} else {
			L.Push(lua.LString(""))
		}
		return 1
	}))
	t.RawSetString("html", L.NewFunction(func(L *lua.LState) int {
		if s, ok := pm.firstText("html", func(n int64) { charge(L, n) }); ok {
			L.Push(lua.LString(s))
		} else {
			L.Push(lua.LNil)
		}
		return 1
	}))
	partsOf := func(L *lua.LState, onlyAttachments bool) int {
		var size int64
		for _, p := range pm.parts {
			size += int64(len(p.body)) + 8*valueSize
		}
		charge(L, size) // each call copies the bodies anew
		list := L.NewTable()
		for _, p := range pm.parts {
			if strings.HasPrefix(p.contentType, "multipart/") {
				continue
			}
			isAtt := p.disposition == "attachment" || (p.filename != "" && !strings.HasPrefix(p.contentType, "text/"))
			if onlyAttachments && !isAtt {
				continue
			}
			e := L.NewTable()
			e.RawSetString("content_type", lua.LString(p.contentType))
			e.RawSetString("charset", lua.LString(p.params["charset"]))
			e.RawSetString("filename", lua.LString(p.filename))
			e.RawSetString("disposition", lua.LString(p.disposition))
			e.RawSetString("size", lua.LNumber(len(p.body)))
			e.RawSetString("body", lua.LString(p.body))
			e.RawSetString("section", lua.LString(p.section))
			list.Append(e)
		}
		L.Push(list)
		return 1
	}
	t.RawSetString("parts", L.NewFunction(func(L *lua.LState) int { return partsOf(L, false) }))
	t.RawSetString("attachments", L.NewFunction(func(L *lua.LState) int { return partsOf(L, true) }))
	L.Push(t)
	return 1
}

// htmlToText is a plain rendering of HTML for text(): tags dropped,
// entities for the common characters undone.
func htmlToText(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
		case r == '>':
			in = false
			b.WriteByte(' ')
		case !in:
			b.WriteRune(r)
		}
	}
	rep := strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&quot;", `"`, "&#39;", "'", "&nbsp;", " ")
	return strings.Join(strings.Fields(rep.Replace(b.String())), " ")
}

// mailNew is mail.new{from=, to=, cc=, bcc=, subject=, text=, html=,
// attachments={ {filename=, content_type=, data=} }, date=, message_id=,
// headers={}}: the message as RFC 5322 bytes with CRLF line endings.
func mailNew(L *lua.LState) int {
	o := L.CheckTable(1)
	get := func(k string) string { return lua.LVAsString(o.RawGetString(k)) }
	var h bytes.Buffer
	addr := func(name, key string) {
		v := o.RawGetString(key)
		var list []string
		switch x := v.(type) {
		case lua.LString:
			list = []string{string(x)}
		case *lua.LTable:
			x.ForEach(func(_, a lua.LValue) { list = append(list, lua.LVAsString(a)) })
		}
		var out []string
		for _, s := range list {
			as, err := mail.ParseAddressList(s)
			if err != nil {
				L.ArgError(1, key+": "+err.Error())
			}
			for _, a := range as {
				out = append(out, a.String())
			}
		}
		if len(out) > 0 {
			fmt.Fprintf(&h, "%s: %s\r\n", name, strings.Join(out, ", "))
		}
	}
	addr("From", "from")
	addr("To", "to")
	addr("Cc", "cc")
	addr("Bcc", "bcc")
	addr("Reply-To", "reply_to")
	fmt.Fprintf(&h, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", get("subject")))
	date := time.Now()
	if n, ok := o.RawGetString("date").(lua.LNumber); ok {
		date = time.Unix(int64(n), 0)
	}
	fmt.Fprintf(&h, "Date: %s\r\n", date.Format(time.RFC1123Z))
	id := get("message_id")
	if id == "" {
		var rnd [12]byte
		rand.Read(rnd[:])
		id = "<" + hex.EncodeToString(rnd[:]) + "@mailscript>"
	}
	fmt.Fprintf(&h, "Message-ID: %s\r\n", id)
	if extra, ok := o.RawGetString("headers").(*lua.LTable); ok {
		extra.ForEach(func(k, v lua.LValue) {
			name, val := lua.LVAsString(k), lua.LVAsString(v)
			if strings.ContainsAny(name+val, "\r\n") || strings.ContainsAny(name, ": ") {
				L.ArgError(1, "header "+name+" holds a line break or bad name")
			}
			fmt.Fprintf(&h, "%s: %s\r\n", name, mime.QEncoding.Encode("utf-8", val))
		})
	}
	h.WriteString("MIME-Version: 1.0\r\n")

	text, html := get("text"), get("html")
	var atts []*lua.LTable
	if t, ok := o.RawGetString("attachments").(*lua.LTable); ok {
		t.ForEach(func(_, v lua.LValue) {
			if a, ok := v.(*lua.LTable); ok {
				atts = append(atts, a)
			}
		})
	}
	var data int64
	for _, a := range atts {
		data += int64(len(lua.LVAsString(a.RawGetString("data"))))
	}
	// quoted-printable takes at most three times the text, base64 with its
	// line breaks 1.4 times the data; the growing buffer and the result's
	// strings hold the message up to four times, beside the data's copies
	charge(L, 4*(3*int64(len(text)+len(html)+h.Len())+3*data/2)+3*data)
	var body bytes.Buffer
	textPart := func(w io.Writer, s string) {
		qp := quotedprintable.NewWriter(w) // line breaks become CRLF
		qp.Write([]byte(s))
		qp.Close()
	}
	alternative := func(w *multipart.Writer) {
		for _, p := range []struct{ sub, s string }{{"plain", text}, {"html", html}} {
			if p.s == "" && !(p.sub == "plain" && html == "") {
				continue
			}
			pw, _ := w.CreatePart(map[string][]string{
				"Content-Type":              {"text/" + p.sub + "; charset=utf-8"},
				"Content-Transfer-Encoding": {"quoted-printable"},
			})
			textPart(pw, p.s)
		}
	}
	switch {
	case len(atts) == 0 && html == "":
		h.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
		textPart(&body, text)
	case len(atts) == 0:
		w := multipart.NewWriter(&body)
		fmt.Fprintf(&h, "Content-Type: multipart/alternative; boundary=%q\r\n\r\n", w.Boundary())
		alternative(w)
		w.Close()
	default:
		w := multipart.NewWriter(&body)
		fmt.Fprintf(&h, "Content-Type: multipart/mixed; boundary=%q\r\n\r\n", w.Boundary())
		if html != "" {
			var inner bytes.Buffer
			iw := multipart.NewWriter(&inner)
			alternative(iw)
			iw.Close()
			pw, _ := w.CreatePart(map[string][]string{"Content-Type": {"multipart/alternative; boundary=" + iw.Boundary()}})
			pw.Write(inner.Bytes())
		} else {
			alternative(w)
		}
		for _, a := range atts {
			name := lua.LVAsString(a.RawGetString("filename"))
			ct := lua.LVAsString(a.RawGetString("content_type"))
			if ct == "" {
				ct = mime.TypeByExtension(filepath.Ext(name))
				if ct == "" {
					ct = "application/octet-stream"
				}
			}
			pw, _ := w.CreatePart(map[string][]string{
				"Content-Type":              {mime.FormatMediaType(ct, map[string]string{"name": name})},
				"Content-Disposition":       {mime.FormatMediaType("attachment", map[string]string{"filename": name})},
				"Content-Transfer-Encoding": {"base64"},
			})
			enc := base64.StdEncoding.EncodeToString([]byte(lua.LVAsString(a.RawGetString("data"))))
			for len(enc) > 76 {
				io.WriteString(pw, enc[:76]+"\r\n")
				enc = enc[76:]
			}
			io.WriteString(pw, enc+"\r\n")
		}
		w.Close()
	}
	L.Push(lua.LString(h.String() + body.String()))
	return 1
}
