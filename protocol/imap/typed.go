package imap

import (
	"cmp"
	"context"
	"strings"
)

// Flag is a message flag: a system flag such as [FlagSeen] or a keyword.
type Flag string

// The system flags of RFC 9051 §2.3.2, and \Recent of RFC 3501.
const (
	FlagSeen     Flag = `\Seen`
	FlagAnswered Flag = `\Answered`
	FlagFlagged  Flag = `\Flagged`
	FlagDeleted  Flag = `\Deleted`
	FlagDraft    Flag = `\Draft`
	FlagRecent   Flag = `\Recent`
)

// FlagList sends flags as a parenthesised flag list, each one checked by
// [CheckFlag] first.
func FlagList(flags ...Flag) Arg {
	return func(e *encoder) {
		parts := make([]string, len(flags))
		for i, f := range flags {
			if err := CheckFlag(string(f)); err != nil {
				if e.err == nil {
					e.err = err
				}
				return
			}
			parts[i] = string(f)
		}
		e.write("("+strings.Join(parts, " ")+")", false)
	}
}

// NumSet is a set of message numbers, [SeqSet], or of UIDs, [UIDSet]:
// a typed command takes either and knows which it was given.
type NumSet interface {
	// Ranges returns the set's ranges.
	Ranges() SeqSet
	isUID() bool
}

// UIDSet is a set of UIDs kept as ranges.
type UIDSet []SeqRange

// Ranges returns s.
func (s SeqSet) Ranges() SeqSet { return s }
func (s SeqSet) isUID() bool    { return false }

// Ranges returns s as a [SeqSet].
func (s UIDSet) Ranges() SeqSet { return SeqSet(s) }
func (s UIDSet) isUID() bool    { return true }

// String renders s in IMAP syntax.
func (s UIDSet) String() string { return SeqSet(s).String() }

// SetArg sends s; an empty set is refused (the grammar has none).
func SetArg(s NumSet) Arg {
	return func(e *encoder) {
		r := s.Ranges()
		if len(r) == 0 {
			e.fail("empty message set")
			return
		}
		e.write(r.String(), false)
	}
}

// uidName prefixes name with UID when s is a [UIDSet].
func uidName(name string, s NumSet) string {
	if s.isUID() {
		return "UID " + name
	}
	return name
}

// StoreFlags makes a STORE (UID STORE for a [UIDSet]) of flags with op,
// "+FLAGS", "-FLAGS" or "FLAGS", ".SILENT" allowed; send it with
// [Client.SendCommand] and read it home with [Command.Wait].
func StoreFlags(s NumSet, op string, flags ...Flag) *Command {
	return &Command{Name: uidName("STORE", s), Args: []Arg{SetArg(s), Atom(op), FlagList(flags...)}}
}

// CopyTo makes a COPY (UID COPY for a [UIDSet]) of s to mailbox.
func CopyTo(s NumSet, mailbox string) *Command {
	return &Command{Name: uidName("COPY", s), Args: []Arg{SetArg(s), Mailbox(mailbox)}}
}

// MoveTo makes a MOVE (UID MOVE for a [UIDSet], RFC 6851) of s to mailbox.
func MoveTo(s NumSet, mailbox string) *Command {
	return &Command{Name: uidName("MOVE", s), Args: []Arg{SetArg(s), Mailbox(mailbox)}}
}

// SendCommand starts cmd and returns without reading its reply, for
// [Command.Wait]; several may be in flight at once (pipelining). A
// command whose literals must wait for the server's "+" is run to its
// completion here, and its Wait returns at once.
func (c *Client) SendCommand(ctx context.Context, cmd *Command) error {
	if err := c.prepare(ctx, []*Command{cmd}); err != nil {
		return err
	}
	cmd.client = c
	stop := c.watch(ctx)
	defer stop()
	if c.syncLiterals(cmd) {
		if err := c.run([]*Command{cmd}); err != nil {
			return c.fail(ctx, cmd.Name, err)
		}
		return nil
	}
	c.pending = append(c.pending, cmd)
	if err := c.write(cmd); err != nil {
		return c.fail(ctx, cmd.Name, err)
	}
	return nil
}

// Wait reads responses until cmd, started by [Client.SendCommand], completes
// (replies to other commands in flight go to them on the way), and
// returns its NO or BAD as an [*Error]; nil for OK.
func (cmd *Command) Wait(ctx context.Context) error {
	if cmd.client == nil {
		return &Error{Kind: KindError, Command: firstWord(cmd.Name), Text: "command not sent: use Client.SendCommand"}
	}
	if !cmd.done {
		if err := cmd.client.Wait(ctx, cmd); err != nil {
			return err
		}
	}
	if cmd.stopOnBye && cmd.Status == nil {
		return nil // LOGOUT's BYE came, the OK need not
	}
	return cmd.Err()
}

// FetchItems makes a FETCH (UID FETCH for a [UIDSet]) of items written
// in IMAP syntax, such as "(UID FLAGS ENVELOPE)"; [Command.Messages]
// decodes the reply.
func FetchItems(s NumSet, items string) *Command {
	return &Command{Name: uidName("FETCH", s), Args: []Arg{SetArg(s), fetchItems(items)}, set: s}
}

// SearchCriteria makes a SEARCH (UID SEARCH when uid) of criteria
// written in IMAP syntax, such as "UNSEEN SINCE 1-Jan-2024";
// [Command.Numbers] decodes the reply.
func SearchCriteria(uid bool, criteria string) *Command {
	name := "SEARCH"
	if uid {
		name = "UID SEARCH"
	}
	return &Command{Name: name, Args: []Arg{Raw(criteria)}}
}

// Search makes a SEARCH (UID SEARCH when uid) of criteria built from
// arguments, such as Atom("SINCE"), Atom("1-Jan-2024"), or AString for a
// header value, so no criterion is pasted into the command line as text;
// [Command.Numbers] decodes the reply. The grammar needs at least one
// criterion: none is refused when the command is sent.
func Search(uid bool, criteria ...Arg) *Command {
	name := "SEARCH"
	if uid {
		name = "UID SEARCH"
	}
	if len(criteria) == 0 {
		criteria = []Arg{func(e *encoder) { e.fail("SEARCH needs criteria") }}
	}
	return &Command{Name: name, Args: criteria}
}

// ListMailboxes makes a LIST of the mailboxes matching pattern (with the
// wildcards * and %) under ref, "" for none; [Command.Mailboxes] decodes
// the reply.
func ListMailboxes(ref, pattern string) *Command {
	return &Command{Name: "LIST", Args: []Arg{Mailbox(ref), Pattern(pattern)}}
}

// ListNamespaces makes a NAMESPACE (RFC 2342); [Command.Namespaces]
// decodes the reply.
func ListNamespaces() *Command { return &Command{Name: "NAMESPACE"} }

// StatusItems makes a STATUS of mailbox for items ("UIDNEXT",
// "UIDVALIDITY", "MESSAGES", ...); [Command.Statuses] decodes the reply.
func StatusItems(mailbox string, items ...string) *Command {
	args := make([]Arg, len(items))
	for i, it := range items {
		args[i] = Atom(it)
	}
	return &Command{Name: "STATUS", Args: []Arg{Mailbox(mailbox), Group(args...)}}
}

// Statuses decodes the STATUS responses cmd received, in arrival order;
// a malformed one is left out and the first such error returned.
func (cmd *Command) Statuses() ([]*StatusData, error) {
	return decodeEach(cmd.Untagged, "STATUS", decodeStatus)
}

// Mailboxes decodes the LIST responses cmd received, in arrival order. A
// malformed one is left out and the first such error returned with the
// others, so one bad line costs one mailbox, not the list.
func (cmd *Command) Mailboxes() ([]*ListEntry, error) {
	return decodeEach(cmd.Untagged, "LIST", decodeList)
}

// decodeEach decodes the responses of type typ in rs, leaving out the
// malformed ones; the first error comes back with the rest.
func decodeEach[T any](rs []*Response, typ string, f func(*Response) (*T, error)) ([]*T, error) {
	var out []*T
	var first error
	for _, r := range rs {
		if r.Type != typ {
			continue
		}
		v, err := f(r)
		if err != nil {
			first = cmp.Or(first, err)
			continue
		}
		out = append(out, v)
	}
	return out, first
}

// Namespaces decodes the NAMESPACE response cmd received (the last, should
// there be several); nil when none came, as from a server without
// NAMESPACE, which answers BAD.
func (cmd *Command) Namespaces() (*Namespaces, error) {
	for i := len(cmd.Untagged) - 1; i >= 0; i-- {
		if r := cmd.Untagged[i]; r.Type == "NAMESPACE" {
			return decodeNamespace(r)
		}
	}
	return nil, nil
}

// Fetch decodes r, an untagged "* n FETCH (...)" response, within the
// limits of the client that read it: for an [Command.OnUntagged] callback,
// where [Command.Messages] has nothing to read.
func (r *Response) Fetch() (*FetchMessage, error) { return decodeFetch(r, 0, false) }

// FetchLazy is [Response.Fetch] leaving ENVELOPE and BODYSTRUCTURE
// undecoded until [FetchMessage.Resolve]: a scan that reads neither pays
// for neither (they are most of a header scan's decoding).
func (r *Response) FetchLazy() (*FetchMessage, error) { return decodeFetch(r, 0, true) }

// SearchNumbers decodes r, an untagged SEARCH, SORT or ESEARCH response
// (ESEARCH's ALL expanded), refusing more than limit numbers; another
// type of response is an error.
func (r *Response) SearchNumbers(limit int) ([]uint32, error) {
	switch r.Type {
	case "SEARCH", "SORT", "ESEARCH":
		return decodeSearch([]*Response{r}, limit)
	}
	return nil, bad(r, "not a SEARCH, SORT or ESEARCH response")
}

// ESearch decodes r, an untagged ESEARCH response (RFC 4731), its ALL
// kept as ranges.
func (r *Response) ESearch() (*ESearch, error) { return decodeESearch(r) }

// StatusData decodes r, an untagged STATUS response (one a NOTIFY sent
// unasked, for instance).
func (r *Response) StatusData() (*StatusData, error) {
	if r.Type != "STATUS" {
		return nil, bad(r, "not a STATUS response")
	}
	return decodeStatus(r)
}

// Messages decodes the FETCH responses a [FetchItems] command received,
// in arrival order, the responses for one message merged. Unsolicited
// FETCH responses for messages outside the command's set (a flag change
// by another client) are left out: only what was asked for comes back.
func (cmd *Command) Messages() ([]*FetchMessage, error) {
	var out []*FetchMessage
	index := map[uint32]int{}
	for _, r := range cmd.Untagged {
		if r.Type != "FETCH" {
			continue
		}
		m, err := r.fetch, r.fetchErr
		if m == nil && err == nil {
			m, err = decodeFetch(r, r.maxDepth, false)
		}
		if err != nil {
			return out, &Error{Kind: KindError, Command: firstWord(cmd.Name), Text: err.Error(), Err: err}
		}
		key := m.Seq
		if cmd.set != nil && cmd.set.isUID() {
			key = m.UID
		}
		if cmd.set != nil && !cmd.set.Ranges().Contains(key) {
			continue
		}
		if i, ok := index[key]; ok {
			out[i].merge(m)
			continue
		}
		index[key] = len(out)
		out = append(out, m)
	}
	return out, nil
}

// Merge adds what o, a later FETCH response for the same message, holds
// to m (a server may split one message's items over several responses,
// RFC 3501 7.4.2). Items either decoded lazily are decoded first.
func (m *FetchMessage) Merge(o *FetchMessage) error {
	if err := m.Resolve(); err != nil {
		return err
	}
	if err := o.Resolve(); err != nil {
		return err
	}
	m.merge(o)
	return nil
}

func (m *FetchMessage) merge(o *FetchMessage) {
	if o.UID != 0 {
		m.UID = o.UID
	}
	if o.HasFlags {
		m.Flags, m.HasFlags = o.Flags, true
	}
	if o.InternalDate != "" {
		m.InternalDate, m.InternalTime = o.InternalDate, o.InternalTime
	}
	if o.Size >= 0 {
		m.Size = o.Size
	}
	if o.ModSeq != 0 {
		m.ModSeq = o.ModSeq
	}
	if o.Envelope != nil {
		m.Envelope = o.Envelope
	}
	if o.BodyStructure != nil {
		m.BodyStructure = o.BodyStructure
	}
	m.Body = mergeMap(m.Body, o.Body)
	m.Binary = mergeMap(m.Binary, o.Binary)
	m.BinarySize = mergeMap(m.BinarySize, o.BinarySize)
	m.Other = mergeMap(m.Other, o.Other)
	if o.RFC822 != nil {
		m.RFC822 = o.RFC822
	}
	if o.RFC822Header != nil {
		m.RFC822Header = o.RFC822Header
	}
	if o.RFC822Text != nil {
		m.RFC822Text = o.RFC822Text
	}
}

func mergeMap[V any](dst, src map[string]V) map[string]V {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		dst = make(map[string]V, len(src))
	}
	for k, v := range src {
		dst[k] = v
	}
	return dst
}

// Numbers decodes the SEARCH, SORT or ESEARCH replies cmd received (an
// ESEARCH ALL expanded to at most limit numbers).
func (cmd *Command) Numbers(limit int) ([]uint32, error) {
	return decodeSearch(cmd.Untagged, limit)
}

// Contains reports whether n may be in s. A range with [Star] holds any
// number: "*" is the largest number in use, which only the server knows,
// and "5:*" holds it even when it is below 5.
func (s SeqSet) Contains(n uint32) bool {
	for _, r := range s {
		if r.Lo == Star || r.Hi == Star || n >= r.Lo && n <= r.Hi {
			return true
		}
	}
	return false
}
