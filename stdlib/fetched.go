package stdlib

import (
	"slices"
	"strings"

	"github.com/mailscript/mailscript/protocol/imap"
)

// fetched sorts the FETCH replies of a message set into the messages
// asked for. A server may send FETCH responses nobody asked for (Cyrus
// sends `* 3 FETCH (FLAGS (\Seen) UID 3)` when another client changes
// flags), and may split one message's data over several responses
// (RFC 3501 section 7.4.2). So a message counts as fetched only when its
// UID was requested, every requested item has arrived (merged over the
// responses for that UID), and it was not delivered before: nothing else
// may be shown to a script or acted on.
type fetched struct {
	uids    []uint32 // requested, sorted
	done    []bool   // delivered, by index in uids
	partial map[uint32]*imap.FetchMessage
	need    []string // item names that must be present, upper case
	body    bool     // BODY[] must be non-empty (it is copied elsewhere)
}

// newFetched expects the replies to "UID FETCH uids items".
func newFetched(uids []uint32, items string) *fetched {
	if !slices.IsSorted(uids) {
		uids = normalize(slices.Clone(uids))
	}
	f := &fetched{uids: uids, done: make([]bool, len(uids)), partial: map[uint32]*imap.FetchMessage{}}
	names := fetchItems(items)
	// ENVELOPE and BODYSTRUCTURE are decoded lazily, so checked only when
	// nothing else tells a reply from an unsolicited flag update
	distinct := false
	for _, n := range names {
		switch n {
		case "UID", "FLAGS", "MODSEQ", "ENVELOPE", "BODYSTRUCTURE":
		default:
			distinct = true
		}
	}
	for _, n := range names {
		if n == "UID" || (distinct && (n == "ENVELOPE" || n == "BODYSTRUCTURE")) {
			continue
		}
		f.need = append(f.need, n)
	}
	return f
}

// fetchItems splits "(UID FLAGS BODY.PEEK[HEADER.FIELDS (A B)])" into its
// item names, upper case, with PEEK and partial ranges dropped.
func fetchItems(items string) []string {
	s := strings.TrimSpace(items)
	if strings.HasPrefix(s, "(") && strings.HasSuffix(s, ")") {
		s = s[1 : len(s)-1]
	}
	var out []string
	depth, start := 0, 0
	flush := func(end int) {
		if it := strings.TrimSpace(s[start:end]); it != "" {
			it = strings.ToUpper(strings.Replace(it, ".PEEK[", "[", 1))
			if i := strings.LastIndexByte(it, ']'); i >= 0 {
				it = it[:i+1] // no <origin.length>
			}
			out = append(out, it)
		}
		start = end + 1
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[', '(':
			depth++
		case ']', ')':
			depth--
		case ' ':
			if depth == 0 {
				flush(i)
			}
		}
	}
	flush(len(s))
	return out
}

// add takes one untagged response and returns the message it completes,
// or nil: not a FETCH, not asked for, delivered already, or incomplete.
func (f *fetched) add(r *imap.Response, lazy bool) (*imap.FetchMessage, error) {
	if r.Type != "FETCH" {
		return nil, nil
	}
	var m *imap.FetchMessage
	var err error
	if lazy {
		m, err = r.FetchLazy()
	} else {
		m, err = r.Fetch()
	}
	if err != nil {
		return nil, err
	}
	i, ok := slices.BinarySearch(f.uids, m.UID)
	if m.UID == 0 || !ok || f.done[i] {
		return nil, nil
	}
	if p := f.partial[m.UID]; p != nil {
		if err := p.Merge(m); err != nil {
			return nil, err
		}
		m = p
	}
	if !f.complete(m) {
		f.partial[m.UID] = m
		return nil, nil
	}
	delete(f.partial, m.UID)
	f.done[i] = true
	return m, nil
}

func (f *fetched) complete(m *imap.FetchMessage) bool {
	for _, n := range f.need {
		if !hasItem(m, n) {
			return false
		}
	}
	return !f.body || len(m.Body[""]) > 0
}

func hasItem(m *imap.FetchMessage, name string) bool {
	switch name {
	case "FLAGS":
		return m.HasFlags
	case "RFC822.SIZE":
		return m.Size >= 0
	case "INTERNALDATE":
		return m.InternalDate != ""
	case "MODSEQ":
		return m.ModSeq != 0
	case "ENVELOPE", "BODYSTRUCTURE":
		if m.Resolve() != nil {
			return false
		}
		if name == "ENVELOPE" {
			return m.Envelope != nil
		}
		return m.BodyStructure != nil
	case "RFC822":
		return m.RFC822 != nil
	case "RFC822.HEADER":
		return m.RFC822Header != nil
	case "RFC822.TEXT":
		return m.RFC822Text != nil
	}
	if sec, ok := strings.CutPrefix(name, "BODY["); ok {
		return hasSection(m.Body, sec)
	}
	if sec, ok := strings.CutPrefix(name, "BINARY["); ok {
		return hasSection(m.Binary, sec)
	}
	_, ok := m.Other[name]
	return ok
}

// hasSection finds "HEADER.FIELDS (A B)]" among the keys the server
// echoed, comparing the section's name only: servers echo field lists
// in their own case and order.
func hasSection(got map[string][]byte, sec string) bool {
	want := sectionName(strings.TrimSuffix(sec, "]"))
	for k := range got {
		if sectionName(k) == want {
			return true
		}
	}
	return false
}

func sectionName(s string) string {
	if i := strings.IndexAny(s, " (<"); i >= 0 {
		s = s[:i]
	}
	return strings.ToUpper(s)
}
