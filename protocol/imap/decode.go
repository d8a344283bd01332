package imap

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
)

// FetchMessage is one FETCH response, decoded.
type FetchMessage struct {
	Seq           uint32
	UID           uint32
	Flags         []string
	HasFlags      bool
	InternalDate  string    // as sent
	InternalTime  time.Time // zero if unparsable
	Size          int64     // RFC822.SIZE; -1 when absent
	ModSeq        uint64
	Envelope      *Envelope
	BodyStructure *BodyStructure
	Body          map[string][]byte // BODY[section]<origin>, keyed by "SECTION" or "SECTION<origin>" (see sectionKey)
	Binary        map[string][]byte // BINARY[section]
	BinarySize    map[string]int64
	RFC822        []byte
	RFC822Header  []byte
	RFC822Text    []byte
	Other         map[string]Value // items this package does not decode

	// left for Resolve by [Response.FetchLazy]
	deferred []deferredItem
	raw      *Response
	maxDepth int
}

// Envelope is RFC 3501's ENVELOPE; Subject and names are RFC 2047-decoded.
// A field the server sent as NIL is "" with its *Nil flag set (an empty
// quoted string is "" without it).
type Envelope struct {
	Date, Subject                      string
	From, Sender, ReplyTo, To, Cc, Bcc []Address
	InReplyTo, MessageID               string

	DateNil, SubjectNil, InReplyToNil, MessageIDNil bool
}

// Address is one ENVELOPE address; *Nil says a field was NIL.
type Address struct {
	Name, Mailbox, Host string
	Address             string // mailbox@host, or mailbox alone for group markers

	NameNil, MailboxNil, HostNil bool
}

// BodyStructure is one node of BODYSTRUCTURE.
type BodyStructure struct {
	Type, Subtype   string // lower-case
	Params          map[string]string
	ID, Description string
	Encoding        string // lower-case
	Size            int64
	Lines           int64
	MD5             string
	Disposition     *Disposition
	Language        []string
	Location        string
	Parts           []*BodyStructure // multipart
	Envelope        *Envelope        // message/rfc822
	Body            *BodyStructure   // message/rfc822
	Part            string           // section number, "1.2"; "" for the top of a single-part message ("1" when fetched)
	Extension       []Value          // extension data past the known fields
}

// Disposition is a Content-Disposition from BODYSTRUCTURE.
type Disposition struct {
	Type   string // lower-case
	Params map[string]string
}

// ListEntry is one LIST or LSUB response.
type ListEntry struct {
	Flags        []string
	Delimiter    string
	DelimiterNil bool   // NIL: a flat namespace
	Name         string // UTF-8
	RawName      string // as sent
	Extended     []Value
}

// StatusData is a STATUS response. Absent items are -1.
type StatusData struct {
	Mailbox                                              string
	Messages, Recent, UIDNext, UIDValidity, Unseen, Size int64
	HighestModSeq                                        uint64
	Items                                                map[string]uint64
}

// MailboxStatus is what SELECT or EXAMINE reported. Absent numbers are -1.
type MailboxStatus struct {
	Exists, Recent, UIDValidity, UIDNext, Unseen int64
	Flags, PermanentFlags                        []string
	ReadOnly                                     bool
	HighestModSeq                                uint64
}

// Thread is one node of a THREAD reply: a message number, or (Num 0) a
// parenthesised list.
type Thread struct {
	Num  uint32
	List []Thread
}

// Quota is a QUOTA response (RFC 2087/9208).
type Quota struct {
	Root      string
	Resources []QuotaResource
}

// QuotaResource is one resource of a [Quota].
type QuotaResource struct {
	Name         string
	Usage, Limit uint64
}

// QuotaRoot is GETQUOTAROOT's answer.
type QuotaRoot struct {
	Mailbox string
	Roots   []string
	Quotas  []*Quota
}

// ACL is an ACL response (RFC 4314).
type ACL struct {
	Mailbox string
	Entries []ACLEntry
}

// ACLEntry is one identifier and its rights.
type ACLEntry struct{ Identifier, Rights string }

// MyRights is a MYRIGHTS response.
type MyRights struct{ Mailbox, Rights string }

// Namespaces is a NAMESPACE response (RFC 2342).
type Namespaces struct{ Personal, Other, Shared []Namespace }

// Namespace is one namespace description.
type Namespace struct {
	Prefix, Delimiter string
	DelimiterNil      bool // NIL: a flat namespace
	Extensions        map[string][]string
}

// AppendUID is the APPENDUID code (RFC 4315).
type AppendUID struct{ UIDValidity, UID uint32 }

// CopyUID is the COPYUID code (RFC 4315), sets expanded.
type CopyUID struct {
	UIDValidity  uint32
	Source, Dest []uint32
}

// parser reads r's values within the limits of the client that read it
// (maxDepth, when given, overrides its depth).
func (r *Response) parser(maxDepth int) *decoder {
	if maxDepth <= 0 {
		maxDepth = r.maxDepth
	}
	p := newDecoder(r.parts, r.skip, maxDepth)
	if r.maxItems > 0 {
		p.maxItems = r.maxItems
	}
	return p
}

func bad(r *Response, msg string) error {
	return &ParseError{Line: r.parts[0].text, Msg: msg}
}

func decodeLast[T any](res *Result, f func(*Response) (*T, error)) (*T, error) {
	if res == nil || len(res.responses) == 0 {
		return nil, nil
	}
	return f(res.responses[len(res.responses)-1])
}

func decodeAll[T any](rs []*Response, f func(*Response) (*T, error)) ([]*T, error) {
	out := make([]*T, 0, len(rs))
	for _, r := range rs {
		v, err := f(r)
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
	return out, nil
}

// deferredItem is where a lazily decoded item's value starts.
type deferredItem struct {
	name    string
	pi, pos int
}

// Resolve decodes what [Response.FetchLazy] left; otherwise it does nothing.
func (m *FetchMessage) Resolve() error {
	items, r, depth := m.deferred, m.raw, m.maxDepth
	m.deferred, m.raw, m.maxDepth = nil, nil, 0
	for _, d := range items {
		p := r.parser(depth)
		p.pi, p.pos = d.pi, d.pos
		v, err := p.value()
		if err != nil {
			return err
		}
		if err := m.item(r, d.name, v); err != nil {
			return err
		}
	}
	return nil
}

// decodeFetch decodes a "* n FETCH (...)" response (maxDepth 0: the
// reading client's); lazy leaves ENVELOPE and BODYSTRUCTURE for Resolve.
func decodeFetch(r *Response, maxDepth int, lazy bool) (*FetchMessage, error) {
	if r.Type != "FETCH" || !r.HasNum {
		return nil, bad(r, "not a FETCH response")
	}
	p := r.parser(maxDepth)
	p.skipSP()
	if t := p.text(); p.pos >= len(t) || t[p.pos] != '(' {
		return nil, bad(r, "FETCH data is not a list of pairs")
	}
	p.pos++
	p.depth++
	m := &FetchMessage{Seq: r.Num, Size: -1}
	for {
		p.skipSP()
		t := p.text()
		if p.pos >= len(t) {
			return nil, bad(r, "FETCH data is not a list of pairs")
		}
		if t[p.pos] == ')' {
			return m, nil
		}
		key, err := p.value()
		if err != nil {
			return nil, err
		}
		if key.Kind != VAtom {
			return nil, bad(r, "FETCH item name is not an atom")
		}
		name := strings.ToUpper(key.S)
		p.skipSP()
		if t := p.text(); p.pos >= len(t) || t[p.pos] == ')' {
			return nil, bad(r, "FETCH data is not a list of pairs")
		}
		if lazy && (name == "ENVELOPE" || name == "BODYSTRUCTURE" || name == "BODY" && p.text()[p.pos] == '(') {
			m.deferred = append(m.deferred, deferredItem{name: key.S, pi: p.pi, pos: p.pos})
			m.raw, m.maxDepth = r, maxDepth
			if err := p.skip(); err != nil {
				return nil, err
			}
			continue
		}
		val, err := p.value()
		if err != nil {
			return nil, err
		}
		if err := m.item(r, key.S, val); err != nil {
			return nil, err
		}
	}
}

// item decodes one FETCH item into m.
func (m *FetchMessage) item(r *Response, key string, val Value) error {
	name := strings.ToUpper(key)
	var err error
	switch {
	case name == "UID":
		n, ok := val.Number()
		if !ok || n > 0xffffffff {
			return bad(r, "bad UID")
		}
		m.UID = uint32(n)
	case name == "FLAGS":
		if val.Kind != VList {
			return bad(r, "FLAGS is not a list")
		}
		m.Flags, m.HasFlags = atoms(val.List), true
	case name == "INTERNALDATE":
		m.InternalDate = val.S
		m.InternalTime, _ = ParseInternalDate(val.S)
	case name == "RFC822.SIZE":
		n, ok := val.Number()
		if !ok {
			return bad(r, "bad RFC822.SIZE")
		}
		m.Size = int64(n)
	case name == "MODSEQ":
		if val.Kind != VList || len(val.List) != 1 {
			return bad(r, "bad MODSEQ")
		}
		m.ModSeq, _ = val.List[0].Number()
	case name == "ENVELOPE":
		if m.Envelope, err = decodeEnvelope(val); err != nil {
			return bad(r, err.Error())
		}
	case name == "BODYSTRUCTURE" || name == "BODY" && val.Kind == VList:
		if m.BodyStructure, err = decodeBody(val, ""); err != nil {
			return bad(r, err.Error())
		}
	case strings.HasPrefix(name, "BODY[") || strings.HasPrefix(name, "BODY.PEEK["):
		if m.Body == nil {
			m.Body = map[string][]byte{}
		}
		m.Body[sectionKey(key)] = []byte(val.S)
	case strings.HasPrefix(name, "BINARY.SIZE["):
		if m.BinarySize == nil {
			m.BinarySize = map[string]int64{}
		}
		n, _ := val.Number()
		m.BinarySize[sectionKey(key)] = int64(n)
	case strings.HasPrefix(name, "BINARY["):
		if m.Binary == nil {
			m.Binary = map[string][]byte{}
		}
		m.Binary[sectionKey(key)] = []byte(val.S)
	case name == "RFC822":
		m.RFC822 = []byte(val.S)
	case name == "RFC822.HEADER":
		m.RFC822Header = []byte(val.S)
	case name == "RFC822.TEXT":
		m.RFC822Text = []byte(val.S)
	default:
		if m.Other == nil {
			m.Other = map[string]Value{}
		}
		m.Other[name] = val
	}
	return nil
}

// sectionKey turns BODY[1.2]<0> into "1.2<0>" and BODY[] into "", the
// section in its normal form (see normalSection).
func sectionKey(item string) string {
	i := strings.IndexByte(item, '[')
	j := strings.LastIndexByte(item, ']')
	if i < 0 || j < i {
		return item
	}
	return normalSection(item[i+1:j]) + item[j+1:]
}

func atoms(vs []Value) []string {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		out = append(out, v.S)
	}
	return out
}

var wordDecoder = &mime.WordDecoder{CharsetReader: CharsetReader}

// CharsetReader converts text in charset (IANA or WHATWG names) to UTF-8,
// for mime.WordDecoder and net/mail. It converts at once and returns a
// bytes.Reader, whose WriteTo spares mime's io.Copy a 32 KB buffer per
// word (a quarter of the CPU of a header scan, measured).
func CharsetReader(charset string, input io.Reader) (io.Reader, error) {
	enc, err := ianaindex.MIME.Encoding(charset)
	if err != nil || enc == nil {
		enc, err = htmlindex.Get(charset)
		if err != nil {
			return nil, fmt.Errorf("unknown charset %q", charset)
		}
	}
	raw, err := io.ReadAll(input)
	if err != nil {
		return nil, err
	}
	out, err := enc.NewDecoder().Bytes(raw)
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(out), nil
}

// DecodeHeader decodes RFC 2047 encoded words to UTF-8; undecodable text
// is returned as it is.
func DecodeHeader(s string) string {
	if !strings.Contains(s, "=?") {
		return s
	}
	d, err := wordDecoder.DecodeHeader(s)
	if err != nil {
		return s
	}
	return d
}

func nstring(v Value) (string, error) {
	switch v.Kind {
	case VNil:
		return "", nil
	case VQuoted, VLiteral, VAtom:
		return v.S, nil
	}
	return "", fmt.Errorf("expected a string, got %s", v)
}

func decodeEnvelope(v Value) (*Envelope, error) {
	if v.Kind != VList || len(v.List) < 10 {
		return nil, fmt.Errorf("ENVELOPE has %d fields, want 10", len(v.List))
	}
	f := v.List
	e := &Envelope{}
	var err error
	str := func(i int) string {
		if err != nil {
			return ""
		}
		var s string
		s, err = nstring(f[i])
		return s
	}
	e.Date, e.Subject = str(0), DecodeHeader(str(1))
	e.InReplyTo, e.MessageID = str(8), str(9)
	if err != nil {
		return nil, err
	}
	e.DateNil, e.SubjectNil = f[0].Kind == VNil, f[1].Kind == VNil
	e.InReplyToNil, e.MessageIDNil = f[8].Kind == VNil, f[9].Kind == VNil
	lists := []*[]Address{&e.From, &e.Sender, &e.ReplyTo, &e.To, &e.Cc, &e.Bcc}
	for i, dst := range lists {
		if *dst, err = decodeAddresses(f[2+i]); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func decodeAddresses(v Value) ([]Address, error) {
	if v.Kind == VNil {
		return []Address{}, nil
	}
	if v.Kind != VList {
		return nil, fmt.Errorf("address list is %s", v)
	}
	out := make([]Address, 0, len(v.List))
	for _, a := range v.List {
		if a.Kind != VList || len(a.List) != 4 {
			return nil, fmt.Errorf("address is %s", a)
		}
		var s [4]string
		for i := range s {
			var err error
			if s[i], err = nstring(a.List[i]); err != nil {
				return nil, err
			}
		}
		addr := Address{Name: DecodeHeader(s[0]), Mailbox: s[2], Host: s[3], Address: s[2],
			NameNil: a.List[0].Kind == VNil, MailboxNil: a.List[2].Kind == VNil, HostNil: a.List[3].Kind == VNil}
		if s[3] != "" {
			addr.Address = s[2] + "@" + s[3]
		}
		out = append(out, addr)
	}
	return out, nil
}

func params(v Value) (map[string]string, error) {
	if v.Kind == VNil {
		return nil, nil
	}
	if v.Kind != VList || len(v.List)%2 != 0 {
		return nil, fmt.Errorf("bad body parameters %s", v)
	}
	m := make(map[string]string, len(v.List)/2)
	for i := 0; i < len(v.List); i += 2 {
		m[strings.ToLower(v.List[i].S)] = DecodeHeader(v.List[i+1].S)
	}
	return m, nil
}

func number(v Value) int64 {
	if v.Kind == VAtom && strings.HasPrefix(v.S, "-") {
		n, _ := strconv.ParseInt(v.S, 10, 64)
		return n // servers send -1 for unknown sizes
	}
	n, _ := v.Number()
	return int64(n)
}

func decodeBody(v Value, part string) (*BodyStructure, error) {
	if v.Kind != VList || len(v.List) == 0 {
		return nil, fmt.Errorf("body structure is %s", v)
	}
	f := v.List
	b := &BodyStructure{Part: part}
	if f[0].Kind == VList { // multipart: parts, then the subtype
		i := 0
		for ; i < len(f) && f[i].Kind == VList; i++ {
			sub := strconv.Itoa(i + 1)
			if part != "" {
				sub = part + "." + sub
			}
			p, err := decodeBody(f[i], sub)
			if err != nil {
				return nil, err
			}
			b.Parts = append(b.Parts, p)
		}
		b.Type = "multipart"
		if i < len(f) {
			b.Subtype = strings.ToLower(f[i].S)
			i++
		}
		ext := f[i:]
		var err error
		if len(ext) > 0 {
			if b.Params, err = params(ext[0]); err != nil {
				return nil, err
			}
		}
		return b, b.extensions(ext, 1)
	}
	if len(f) < 7 {
		return nil, fmt.Errorf("body has %d fields, want 7 or more", len(f))
	}
	b.Type, b.Subtype = strings.ToLower(f[0].S), strings.ToLower(f[1].S)
	var err error
	if b.Params, err = params(f[2]); err != nil {
		return nil, err
	}
	b.ID, b.Description = f[3].S, f[4].S
	b.Encoding = strings.ToLower(f[5].S)
	b.Size = number(f[6])
	rest := f[7:]
	switch {
	case b.Type == "message" && (b.Subtype == "rfc822" || b.Subtype == "global") && len(rest) >= 3:
		if b.Envelope, err = decodeEnvelope(rest[0]); err != nil {
			return nil, err
		}
		inner := part
		if inner == "" {
			inner = "1"
		}
		if b.Body, err = decodeBody(rest[1], inner); err != nil {
			return nil, err
		}
		b.Lines = number(rest[2])
		rest = rest[3:]
	case b.Type == "text" && len(rest) >= 1:
		b.Lines = number(rest[0])
		rest = rest[1:]
	}
	if len(rest) > 0 {
		b.MD5 = rest[0].S
	}
	return b, b.extensions(rest, 1)
}

// extensions reads disposition, language, location and anything after,
// starting at ext[i].
func (b *BodyStructure) extensions(ext []Value, i int) error {
	if i < len(ext) {
		d := ext[i]
		if d.Kind == VList && len(d.List) >= 1 {
			b.Disposition = &Disposition{Type: strings.ToLower(d.List[0].S)}
			if len(d.List) > 1 {
				var err error
				if b.Disposition.Params, err = params(d.List[1]); err != nil {
					return err
				}
			}
		}
		i++
	}
	if i < len(ext) {
		switch l := ext[i]; l.Kind {
		case VList:
			b.Language = atoms(l.List)
		case VQuoted, VLiteral, VAtom:
			b.Language = []string{l.S}
		}
		i++
	}
	if i < len(ext) {
		b.Location = ext[i].S
		i++
	}
	if i < len(ext) {
		b.Extension = ext[i:]
	}
	return nil
}

func decodeList(r *Response) (*ListEntry, error) {
	vs, err := r.parser(0).rest()
	if err != nil {
		return nil, err
	}
	if len(vs) < 3 || vs[0].Kind != VList {
		return nil, bad(r, "bad LIST response")
	}
	e := &ListEntry{Flags: atoms(vs[0].List), Delimiter: vs[1].S, DelimiterNil: vs[1].Kind == VNil, RawName: vs[2].S}
	e.Name = e.RawName
	if d, err := DecodeUTF7(e.RawName); err == nil {
		e.Name = d
	}
	e.Extended = vs[3:]
	return e, nil
}

func decodeStatus(r *Response) (*StatusData, error) {
	vs, err := r.parser(0).rest()
	if err != nil {
		return nil, err
	}
	if len(vs) != 2 || vs[1].Kind != VList || len(vs[1].List)%2 != 0 {
		return nil, bad(r, "bad STATUS response")
	}
	s := &StatusData{Mailbox: vs[0].S, Messages: -1, Recent: -1, UIDNext: -1, UIDValidity: -1, Unseen: -1, Size: -1, Items: map[string]uint64{}}
	if d, err := DecodeUTF7(s.Mailbox); err == nil {
		s.Mailbox = d
	}
	l := vs[1].List
	for i := 0; i < len(l); i += 2 {
		n, ok := l[i+1].Number()
		if !ok {
			return nil, bad(r, "bad STATUS number")
		}
		name := strings.ToUpper(l[i].S)
		s.Items[name] = n
		switch name {
		case "MESSAGES":
			s.Messages = int64(n)
		case "RECENT":
			s.Recent = int64(n)
		case "UIDNEXT":
			s.UIDNext = int64(n)
		case "UIDVALIDITY":
			s.UIDValidity = int64(n)
		case "UNSEEN":
			s.Unseen = int64(n)
		case "SIZE":
			s.Size = int64(n)
		case "HIGHESTMODSEQ":
			s.HighestModSeq = n
		}
	}
	return s, nil
}

// decodeSearch reads SEARCH, SORT and ESEARCH replies (ALL expanded, at
// most limit numbers in all); other responses among them (EXISTS,
// FETCH...) are skipped.
func decodeSearch(rs []*Response, limit int) ([]uint32, error) {
	out := []uint32{}
	for _, r := range rs {
		switch r.Type {
		case "SEARCH", "SORT":
		case "ESEARCH":
			es, err := decodeESearch(r)
			if err != nil {
				return out, err
			}
			// only ALL lists hits: MIN, MAX and COUNT describe them
			// ([Result.ESearch] has those)
			if out, err = es.All.appendTo(out, limit); err != nil {
				return out, bad(r, err.Error())
			}
			continue
		default:
			continue
		}
		// one value at a time: a SEARCH may hold 100,000 numbers
		p := r.parser(0)
		for !p.atEnd() {
			v, err := p.value()
			if err != nil {
				return out, err
			}
			if v.Kind == VList { // (MODSEQ n) of CONDSTORE
				continue
			}
			n, ok := v.Number()
			if !ok || n > 0xffffffff {
				return out, bad(r, "bad number in "+r.Type)
			}
			if len(out) >= limit {
				return out, bad(r, (&LimitError{Option: "MaxExpand", Max: int64(limit)}).Error())
			}
			out = append(out, uint32(n))
		}
	}
	return out, nil
}

// ExpandSet turns a sequence set of numbers ("1:3,7") into its numbers,
// refusing sets of more than limit numbers or with "*".
func ExpandSet(s string, limit int) ([]uint32, error) {
	set, err := ParseSeqSet(s)
	if err != nil {
		return nil, err
	}
	return set.appendTo(nil, limit)
}

func decodeThread(r *Response, maxDepth int) ([]Thread, error) {
	vs, err := r.parser(maxDepth).rest()
	if err != nil {
		return nil, err
	}
	var conv func(vs []Value) ([]Thread, error)
	conv = func(vs []Value) ([]Thread, error) {
		out := make([]Thread, 0, len(vs))
		for _, v := range vs {
			if v.Kind == VList {
				sub, err := conv(v.List)
				if err != nil {
					return nil, err
				}
				out = append(out, Thread{List: sub})
				continue
			}
			n, ok := v.Number()
			if !ok || n == 0 || n > 0xffffffff {
				return nil, bad(r, "bad THREAD member")
			}
			out = append(out, Thread{Num: uint32(n)})
		}
		return out, nil
	}
	return conv(vs)
}

func decodeQuota(r *Response) (*Quota, error) {
	vs, err := r.parser(0).rest()
	if err != nil {
		return nil, err
	}
	if len(vs) != 2 || vs[1].Kind != VList || len(vs[1].List)%3 != 0 {
		return nil, bad(r, "bad QUOTA response")
	}
	q := &Quota{Root: vs[0].S}
	l := vs[1].List
	for i := 0; i < len(l); i += 3 {
		u, ok1 := l[i+1].Number()
		lim, ok2 := l[i+2].Number()
		if !ok1 || !ok2 {
			return nil, bad(r, "bad QUOTA number")
		}
		q.Resources = append(q.Resources, QuotaResource{Name: strings.ToUpper(l[i].S), Usage: u, Limit: lim})
	}
	return q, nil
}

func decodeQuotaRoot(r *Response) (string, []string, error) {
	vs, err := r.parser(0).rest()
	if err != nil {
		return "", nil, err
	}
	if len(vs) < 1 {
		return "", nil, bad(r, "bad QUOTAROOT response")
	}
	return vs[0].S, atoms(vs[1:]), nil
}

func decodeACL(r *Response) (*ACL, error) {
	vs, err := r.parser(0).rest()
	if err != nil {
		return nil, err
	}
	if len(vs) < 1 || len(vs)%2 != 1 {
		return nil, bad(r, "bad ACL response")
	}
	a := &ACL{Mailbox: vs[0].S}
	for i := 1; i < len(vs); i += 2 {
		a.Entries = append(a.Entries, ACLEntry{Identifier: vs[i].S, Rights: vs[i+1].S})
	}
	return a, nil
}

func decodeMyRights(r *Response) (*MyRights, error) {
	vs, err := r.parser(0).rest()
	if err != nil {
		return nil, err
	}
	if len(vs) != 2 {
		return nil, bad(r, "bad MYRIGHTS response")
	}
	return &MyRights{Mailbox: vs[0].S, Rights: vs[1].S}, nil
}

func decodeNamespace(r *Response) (*Namespaces, error) {
	vs, err := r.parser(0).rest()
	if err != nil {
		return nil, err
	}
	if len(vs) != 3 {
		return nil, bad(r, "bad NAMESPACE response")
	}
	var out [3][]Namespace
	for i, v := range vs {
		if v.Kind == VNil {
			continue
		}
		if v.Kind != VList {
			return nil, bad(r, "bad NAMESPACE list")
		}
		for _, d := range v.List {
			if d.Kind != VList || len(d.List) < 2 {
				return nil, bad(r, "bad NAMESPACE description")
			}
			ns := Namespace{Prefix: d.List[0].S, Delimiter: d.List[1].S, DelimiterNil: d.List[1].Kind == VNil}
			ext := d.List[2:]
			for j := 0; j+1 < len(ext); j += 2 {
				if ns.Extensions == nil {
					ns.Extensions = map[string][]string{}
				}
				ns.Extensions[ext[j].S] = atoms(ext[j+1].List)
			}
			out[i] = append(out[i], ns)
		}
	}
	return &Namespaces{Personal: out[0], Other: out[1], Shared: out[2]}, nil
}

func decodeID(r *Response) (*map[string]string, error) {
	vs, err := r.parser(0).rest()
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	if len(vs) == 1 && vs[0].Kind == VNil {
		return &m, nil
	}
	if len(vs) != 1 || vs[0].Kind != VList || len(vs[0].List)%2 != 0 {
		return nil, bad(r, "bad ID response")
	}
	l := vs[0].List
	for i := 0; i < len(l); i += 2 {
		m[l[i].S] = l[i+1].S
	}
	return &m, nil
}

func (c *Client) mailboxStatus(cmd *Command) *MailboxStatus {
	st := &MailboxStatus{Exists: -1, Recent: -1, UIDValidity: -1, UIDNext: -1, Unseen: -1, ReadOnly: c.readonly}
	for _, r := range cmd.Untagged {
		switch r.Type {
		case "EXISTS":
			st.Exists = int64(r.Num)
		case "RECENT":
			st.Recent = int64(r.Num)
		case "FLAGS":
			if vs, err := r.parser(0).rest(); err == nil && len(vs) == 1 && vs[0].Kind == VList {
				st.Flags = atoms(vs[0].List)
			}
		}
		st.code(r)
	}
	if cmd.Status != nil {
		st.code(cmd.Status)
	}
	return st
}

func (st *MailboxStatus) code(r *Response) {
	if !r.HasCode {
		return
	}
	n, _ := strconv.ParseUint(strings.TrimSpace(r.CodeArg), 10, 64)
	switch r.Code {
	case "UIDVALIDITY":
		st.UIDValidity = int64(n)
	case "UIDNEXT":
		st.UIDNext = int64(n)
	case "UNSEEN":
		st.Unseen = int64(n)
	case "HIGHESTMODSEQ":
		st.HighestModSeq = n
	case "READ-ONLY":
		st.ReadOnly = true
	case "READ-WRITE":
		st.ReadOnly = false
	case "PERMANENTFLAGS":
		if vs := codeValues(r); len(vs) == 1 && vs[0].Kind == VList {
			st.PermanentFlags = atoms(vs[0].List)
		}
	}
}

// codeValues decodes a response code's argument; nil when malformed.
func codeValues(r *Response) []Value {
	vs, err := parseValues(r.CodeArg)
	if err != nil {
		return nil
	}
	return vs
}

func appendUID(r *Response) *AppendUID {
	if r == nil || r.Code != "APPENDUID" {
		return nil
	}
	f := codeValues(r)
	if len(f) != 2 {
		return nil
	}
	v, ok1 := f[0].Number()
	u, ok2 := f[1].Number()
	if !ok1 || !ok2 || v > 0xffffffff || u > 0xffffffff {
		return nil
	}
	return &AppendUID{UIDValidity: uint32(v), UID: uint32(u)}
}

// copyUID finds COPYUID in the tagged reply or (MOVE) an untagged OK.
func copyUID(cmd *Command, limit int) *CopyUID {
	rs := append([]*Response{cmd.Status}, cmd.Untagged...)
	for _, r := range rs {
		if r == nil || r.Code != "COPYUID" {
			continue
		}
		f := codeValues(r)
		if len(f) != 3 || f[1].Kind != VAtom || f[2].Kind != VAtom {
			return nil
		}
		v, ok := f[0].Number()
		src, err1 := ExpandSet(f[1].S, limit)
		dst, err2 := ExpandSet(f[2].S, limit)
		if !ok || v > 0xffffffff || err1 != nil || err2 != nil {
			return nil
		}
		return &CopyUID{UIDValidity: uint32(v), Source: src, Dest: dst}
	}
	return nil
}
