package imap

import (
	"context"
	"crypto/tls"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/mailscript/mailscript/internal/tlsopt"
)

// Result is imaplib's (typ, data) pair for a command.
type Result struct {
	Type   string // "OK" or "NO" ("BYE" from Logout)
	Data   []Item // imaplib's data list; empty where imaplib returns [None]
	Status *Response
	// Groups holds GETQUOTAROOT's two lists, [quotaroot, quota], as imaplib does.
	Groups [][]Item

	responses []*Response // the popped responses behind Data
}

// Err returns the NO or BAD completion as an [*Error] (Type, Code and
// Text from the reply), nil for OK: imaplib returns a NO as data, a Go
// caller branches on an error.
func (r *Result) Err() error {
	if r == nil || r.Status == nil || r.Status.Type != "NO" && r.Status.Type != "BAD" {
		return nil
	}
	return statusError(KindError, "", r.Status, r.Status.Type+" "+r.Status.Text)
}

// Responses returns the untagged responses behind Data.
func (r *Result) Responses() []*Response { return r.responses }

// commandStates is imaplib's Commands table: where each command is
// allowed. It is never written; Xatom's additions live on the client.
var commandStates = map[string]string{
	"APPEND": "AS", "AUTHENTICATE": "N", "CAPABILITY": "NASL", "CHECK": "S",
	"CLOSE": "S", "COPY": "S", "CREATE": "AS", "DELETE": "AS", "DELETEACL": "AS",
	"ENABLE": "A", "EXAMINE": "AS", "EXPUNGE": "S", "FETCH": "S", "GETACL": "AS",
	"GETANNOTATION": "AS", "GETQUOTA": "AS", "GETQUOTAROOT": "AS", "ID": "NAS",
	"IDLE": "AS", "MYRIGHTS": "AS", "LIST": "AS", "LOGIN": "N", "LOGOUT": "NASL",
	"LSUB": "AS", "MOVE": "S", "NAMESPACE": "AS", "NOOP": "NASL", "PARTIAL": "S",
	"PROXYAUTH": "A", "RENAME": "AS", "SEARCH": "S", "SELECT": "AS",
	"SETACL": "AS", "SETANNOTATION": "AS", "SETQUOTA": "AS", "SORT": "S",
	"STARTTLS": "N", "STATUS": "AS", "STORE": "S", "SUBSCRIBE": "AS",
	"THREAD": "S", "UID": "S", "UNSUBSCRIBE": "AS", "UNSELECT": "S",
}

var stateLetter = map[ConnState]byte{StateNonAuth: 'N', StateAuth: 'A', StateSelected: 'S', StateLogout: 'L'}
var letterState = map[byte]ConnState{'N': StateNonAuth, 'A': StateAuth, 'S': StateSelected, 'L': StateLogout}

func (c *Client) checkState(name string) error {
	state := c.State()
	allowed, ok := commandStates[name]
	if !ok {
		allowed, ok = c.xstates[name]
	}
	if !ok {
		allowed = string(stateLetter[state])
	}
	if l, ok := stateLetter[state]; ok && strings.IndexByte(allowed, l) >= 0 {
		return nil
	}
	var names []string
	for i := 0; i < len(allowed); i++ {
		names = append(names, string(letterState[allowed[i]]))
	}
	return &Error{Kind: KindError, Command: name, Text: "command " + name + " illegal in state " + string(state) + ", only allowed in states " + strings.Join(names, ", ")}
}

// command is imaplib's _command + _command_complete: state check, store
// housekeeping, read-only check, send, BYE check, BAD raises.
func (c *Client) command(ctx context.Context, name, stateName string, args ...Arg) (*Command, error) {
	return c.commandThen(ctx, name, stateName, nil, args...)
}

// commandThen is command with then pipelined behind it: sent without
// waiting, read in the same turn, whatever the first one's outcome.
func (c *Client) commandThen(ctx context.Context, name, stateName string, then []*Command, args ...Arg) (*Command, error) {
	if c.dead() != nil {
		return nil, c.broken
	}
	if c.idler != nil {
		if err := c.idler.Done(ctx); err != nil {
			return nil, err
		}
	}
	if err := c.checkState(stateName); err != nil {
		return nil, err
	}
	for _, t := range []string{"OK", "NO", "BAD"} {
		c.storeDel(t)
	}
	if _, ro := c.store["READ-ONLY"]; ro && !c.readonly {
		return nil, &Error{Kind: KindReadOnly, Command: stateName, Text: "mailbox status changed to READ-ONLY"}
	}
	if err := c.checkBye(stateName); err != nil {
		return nil, err
	}
	cmd := &Command{Name: name, Args: args, keep: true, stopOnBye: name == "LOGOUT"}
	if err := c.Execute(ctx, append([]*Command{cmd}, then...)...); err != nil {
		return nil, err
	}
	if name != "LOGOUT" {
		if err := c.checkBye(stateName); err != nil {
			return nil, err
		}
	}
	if cmd.Status != nil && cmd.Status.Type == "BAD" {
		return cmd, statusError(KindError, stateName, cmd.Status, stateName+" command error: BAD ["+strconv.Quote(cmd.Status.Text)+"]")
	}
	return cmd, nil
}

// simple runs a command and returns the tagged data (imaplib's _simple_command).
func (c *Client) simple(ctx context.Context, name string, args ...Arg) (*Result, error) {
	cmd, err := c.command(ctx, name, firstWord(name), args...)
	if err != nil {
		return nil, err
	}
	return tagged(cmd), nil
}

func tagged(cmd *Command) *Result {
	return &Result{Type: cmd.Status.Type, Data: []Item{{Text: cmd.Status.Text}}, Status: cmd.Status}
}

// untagged runs a command and pops the untagged responses under key
// (imaplib's _untagged_response); a NO returns the tagged data.
func (c *Client) untagged(ctx context.Context, name, stateName, key string, args ...Arg) (*Result, error) {
	cmd, err := c.command(ctx, name, stateName, args...)
	if err != nil {
		return nil, err
	}
	return c.untaggedResult(cmd, key), nil
}

func (c *Client) untaggedResult(cmd *Command, key string) *Result {
	if cmd.Status.Type == "NO" {
		return tagged(cmd)
	}
	items, rs := flatten(c.pop(key))
	return &Result{Type: cmd.Status.Type, Data: items, Status: cmd.Status, responses: rs}
}

func optUID(uid bool, name string) (string, string) {
	if uid {
		return "UID " + name, name
	}
	return name, name
}

// Append adds message to mailbox (imaplib's append). flags may be ""
// and are parenthesised; dateTime is an INTERNALDATE string ("" for none,
// see [Time2Internaldate]). Bare CR and LF become CRLF.
func (c *Client) Append(ctx context.Context, mailbox, flags, dateTime string, message []byte) (*Result, *AppendUID, error) {
	args := []Arg{Mailbox(mailbox)}
	if flags != "" {
		args = append(args, Flags(flags))
	}
	if dateTime != "" {
		args = append(args, Raw(dateTime))
	}
	msg := normalizeCRLF(message)
	plain := append(args, LiteralArg(msg, false))
	if !c.utf8 {
		res, err := c.simple(ctx, "APPEND", plain...)
		if err != nil {
			return nil, nil, err
		}
		return res, appendUID(res.Status), nil
	}
	res, err := c.simple(ctx, "APPEND", append(args[:len(args):len(args)], func(e *encoder) {
		e.write("UTF8 (", false)
		e.literal(msg, true, false)
		e.write(")", false)
	})...)
	if err != nil {
		return nil, nil, err
	}
	// Courier 5.0 refuses RFC 6855's form with a NO before the literal
	// (no response code) and takes the message as a plain literal: retry
	// so. A NO appended nothing, so the retry cannot duplicate.
	if res.Type == "NO" && res.Status != nil && res.Status.Code == "" {
		if res, err = c.simple(ctx, "APPEND", plain...); err != nil {
			return nil, nil, err
		}
	}
	return res, appendUID(res.Status), nil
}

// Capability asks for the server's capabilities.
func (c *Client) Capability(ctx context.Context) (*Result, []string, error) {
	res, err := c.untagged(ctx, "CAPABILITY", "CAPABILITY", "CAPABILITY")
	if err != nil {
		return nil, nil, err
	}
	if len(res.responses) > 0 {
		c.setCaps(res.Data[len(res.Data)-1].Text)
	}
	return res, c.Capabilities(), nil
}

// Check requests a checkpoint of the selected mailbox.
func (c *Client) Check(ctx context.Context) (*Result, error) { return c.simple(ctx, "CHECK") }

// CloseMailbox closes the selected mailbox (imaplib's close()); the state
// becomes AUTH even when it fails.
func (c *Client) CloseMailbox(ctx context.Context) (*Result, error) {
	defer c.setState(StateAuth)
	return c.simple(ctx, "CLOSE")
}

// Unselect leaves the selected mailbox without expunging.
func (c *Client) Unselect(ctx context.Context) (*Result, error) {
	defer c.setState(StateAuth)
	return c.simple(ctx, "UNSELECT")
}

func (c *Client) setState(s ConnState) {
	c.mu.Lock()
	if c.state != StateLogout {
		c.state = s
	}
	c.mu.Unlock()
}

// Copy copies messages to mailbox; the COPYUID code is decoded when given.
func (c *Client) Copy(ctx context.Context, set, mailbox string, uid bool) (*Result, *CopyUID, error) {
	return c.copyMove(ctx, "COPY", set, mailbox, uid)
}

// Move moves messages to mailbox (RFC 6851).
func (c *Client) Move(ctx context.Context, set, mailbox string, uid bool) (*Result, *CopyUID, error) {
	return c.copyMove(ctx, "MOVE", set, mailbox, uid)
}

func (c *Client) copyMove(ctx context.Context, verb, set, mailbox string, uid bool) (*Result, *CopyUID, error) {
	name, st := optUID(uid, verb)
	if uid {
		st = "UID"
	}
	cmd, err := c.command(ctx, name, st, Set(set), Mailbox(mailbox))
	if err != nil {
		return nil, nil, err
	}
	var res *Result
	if uid {
		res = c.untaggedResult(cmd, "FETCH")
	} else {
		res = tagged(cmd)
	}
	return res, copyUID(cmd, c.opts.MaxExpand), nil
}

// Create makes a mailbox.
func (c *Client) Create(ctx context.Context, mailbox string) (*Result, error) {
	return c.simple(ctx, "CREATE", Mailbox(mailbox))
}

// Delete removes a mailbox.
func (c *Client) Delete(ctx context.Context, mailbox string) (*Result, error) {
	return c.simple(ctx, "DELETE", Mailbox(mailbox))
}

// Rename renames a mailbox.
func (c *Client) Rename(ctx context.Context, oldName, newName string) (*Result, error) {
	return c.simple(ctx, "RENAME", Mailbox(oldName), Mailbox(newName))
}

// Subscribe adds mailbox to the subscribed list.
func (c *Client) Subscribe(ctx context.Context, mailbox string) (*Result, error) {
	return c.simple(ctx, "SUBSCRIBE", Mailbox(mailbox))
}

// Unsubscribe removes mailbox from the subscribed list.
func (c *Client) Unsubscribe(ctx context.Context, mailbox string) (*Result, error) {
	return c.simple(ctx, "UNSUBSCRIBE", Mailbox(mailbox))
}

// DeleteACL removes who's rights on mailbox (RFC 4314).
func (c *Client) DeleteACL(ctx context.Context, mailbox, who string) (*Result, error) {
	return c.simple(ctx, "DELETEACL", Mailbox(mailbox), AString(who))
}

// SetACL sets who's rights on mailbox.
func (c *Client) SetACL(ctx context.Context, mailbox, who, what string) (*Result, error) {
	return c.simple(ctx, "SETACL", Mailbox(mailbox), AString(who), AString(what))
}

// GetACL returns the access control list of mailbox.
func (c *Client) GetACL(ctx context.Context, mailbox string) (*Result, *ACL, error) {
	res, err := c.untagged(ctx, "GETACL", "GETACL", "ACL", Mailbox(mailbox))
	if err != nil {
		return nil, nil, err
	}
	acl, err := decodeLast(res, decodeACL)
	return res, acl, err
}

// MyRights returns the rights of the logged-in user on mailbox.
func (c *Client) MyRights(ctx context.Context, mailbox string) (*Result, *MyRights, error) {
	res, err := c.untagged(ctx, "MYRIGHTS", "MYRIGHTS", "MYRIGHTS", Mailbox(mailbox))
	if err != nil {
		return nil, nil, err
	}
	r, err := decodeLast(res, decodeMyRights)
	return res, r, err
}

// Enable enables a server capability (RFC 5161); UTF8=ACCEPT switches the
// client to UTF-8 mode.
func (c *Client) Enable(ctx context.Context, capability string) (*Result, []string, error) {
	if !c.HasCap("ENABLE") {
		return nil, nil, &Error{Kind: KindError, Command: "ENABLE", Text: "Server does not support ENABLE"}
	}
	var args []Arg
	for _, f := range strings.Fields(capability) {
		args = append(args, Atom(f))
	}
	if len(args) == 0 {
		return nil, nil, &Error{Kind: KindError, Command: "ENABLE", Text: "ENABLE needs a capability"}
	}
	cmd, err := c.command(ctx, "ENABLE", "ENABLE", args...)
	if err != nil {
		return nil, nil, err
	}
	res := tagged(cmd)
	var enabled []string
	for _, s := range c.pop("ENABLED") {
		enabled = append(enabled, strings.Fields(strings.ToUpper(itemsOf(s)[0].Text))...)
	}
	if res.Type == "OK" && strings.Contains(strings.ToUpper(capability), "UTF8=ACCEPT") {
		c.utf8 = true
	}
	return res, enabled, nil
}

// Expunge removes \Deleted messages and returns their sequence numbers.
func (c *Client) Expunge(ctx context.Context) (*Result, []uint32, error) {
	res, err := c.untagged(ctx, "EXPUNGE", "EXPUNGE", "EXPUNGE")
	if err != nil {
		return nil, nil, err
	}
	return res, numbers(res.responses), nil
}

// UIDExpunge expunges only the \Deleted messages among uids (RFC 4315).
func (c *Client) UIDExpunge(ctx context.Context, uids string) (*Result, []uint32, error) {
	res, err := c.untagged(ctx, "UID EXPUNGE", "UID", "EXPUNGE", Set(uids))
	if err != nil {
		return nil, nil, err
	}
	return res, numbers(res.responses), nil
}

func numbers(rs []*Response) []uint32 {
	out := make([]uint32, 0, len(rs))
	for _, r := range rs {
		if r.HasNum {
			out = append(out, r.Num)
		}
	}
	return out
}

// fetchItems parenthesises FETCH items except the macros ALL, FAST, FULL.
func fetchItems(parts string) Arg {
	p := strings.TrimSpace(parts)
	switch strings.ToUpper(p) {
	case "ALL", "FAST", "FULL":
		return Atom(p)
	}
	return Paren(p)
}

// Fetch fetches message data; each message is decoded into a [FetchMessage].
func (c *Client) Fetch(ctx context.Context, set, parts string, uid bool) (*Result, []*FetchMessage, error) {
	name, st := optUID(uid, "FETCH")
	if uid {
		st = "UID"
	}
	c.decodeEarly = true
	res, err := c.untagged(ctx, name, st, "FETCH", Set(set), fetchItems(parts))
	c.decodeEarly = false
	if err != nil {
		return nil, nil, err
	}
	msgs, err := c.decodeFetches(res.responses)
	return res, msgs, err
}

func (c *Client) decodeFetches(rs []*Response) ([]*FetchMessage, error) {
	msgs := make([]*FetchMessage, 0, len(rs))
	for _, r := range rs {
		m, err := r.fetch, r.fetchErr
		if m == nil && err == nil {
			m, err = decodeFetch(r, c.opts.MaxDepth, false)
		}
		if err != nil {
			return msgs, &Error{Kind: KindError, Command: "FETCH", Text: err.Error(), Err: err}
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// Partial is the obsolete PARTIAL command (RFC 1730).
func (c *Client) Partial(ctx context.Context, num, part string, start, length int64) (*Result, []*FetchMessage, error) {
	res, err := c.untagged(ctx, "PARTIAL", "PARTIAL", "FETCH", Set(num), Raw(part),
		Atom(strconv.FormatInt(start, 10)), Atom(strconv.FormatInt(length, 10)))
	if err != nil {
		return nil, nil, err
	}
	msgs, err := c.decodeFetches(res.responses)
	return res, msgs, err
}

// Store changes flags: command is FLAGS, +FLAGS, -FLAGS (optionally .SILENT).
func (c *Client) Store(ctx context.Context, set, command, flags string, uid bool) (*Result, []*FetchMessage, error) {
	name, st := optUID(uid, "STORE")
	if uid {
		st = "UID"
	}
	res, err := c.untagged(ctx, name, st, "FETCH", Set(set), Atom(command), Flags(flags))
	if err != nil {
		return nil, nil, err
	}
	msgs, err := c.decodeFetches(res.responses)
	return res, msgs, err
}

// GetAnnotation is RFC 5464's GETANNOTATION (the draft imaplib follows).
func (c *Client) GetAnnotation(ctx context.Context, mailbox, entry, attribute string) (*Result, error) {
	return c.untagged(ctx, "GETANNOTATION", "GETANNOTATION", "ANNOTATION", Mailbox(mailbox), AString(entry), AString(attribute))
}

// SetAnnotation sends SETANNOTATION with args as written.
func (c *Client) SetAnnotation(ctx context.Context, args ...string) (*Result, error) {
	var a []Arg
	for _, s := range args {
		a = append(a, Raw(s))
	}
	return c.untagged(ctx, "SETANNOTATION", "SETANNOTATION", "ANNOTATION", a...)
}

// GetQuota returns the usage and limits of a quota root (RFC 2087).
func (c *Client) GetQuota(ctx context.Context, root string) (*Result, []*Quota, error) {
	res, err := c.untagged(ctx, "GETQUOTA", "GETQUOTA", "QUOTA", AString(root))
	if err != nil {
		return nil, nil, err
	}
	q, err := decodeAll(res.responses, decodeQuota)
	return res, q, err
}

// SetQuota sets the limits of a quota root, e.g. "(STORAGE 512)".
func (c *Client) SetQuota(ctx context.Context, root, limits string) (*Result, []*Quota, error) {
	res, err := c.untagged(ctx, "SETQUOTA", "SETQUOTA", "QUOTA", AString(root), Paren(limits))
	if err != nil {
		return nil, nil, err
	}
	q, err := decodeAll(res.responses, decodeQuota)
	return res, q, err
}

// GetQuotaRoot returns mailbox's quota roots and their quotas; Groups is
// imaplib's [quotaroot, quota].
func (c *Client) GetQuotaRoot(ctx context.Context, mailbox string) (*Result, *QuotaRoot, error) {
	cmd, err := c.command(ctx, "GETQUOTAROOT", "GETQUOTAROOT", Mailbox(mailbox))
	if err != nil {
		return nil, nil, err
	}
	if cmd.Status.Type == "NO" {
		return tagged(cmd), nil, nil
	}
	quota, qrs := flatten(c.pop("QUOTA"))
	roots, rrs := flatten(c.pop("QUOTAROOT"))
	res := &Result{Type: cmd.Status.Type, Status: cmd.Status, Groups: [][]Item{roots, quota}, responses: append(rrs, qrs...)}
	out := &QuotaRoot{}
	for _, r := range rrs {
		mb, rts, err := decodeQuotaRoot(r)
		if err != nil {
			return res, nil, err
		}
		out.Mailbox, out.Roots = mb, append(out.Roots, rts...)
	}
	out.Quotas, err = decodeAll(qrs, decodeQuota)
	return res, out, err
}

// ID exchanges client and server identification (RFC 2971); fields are
// name/value pairs, nil sends NIL.
func (c *Client) ID(ctx context.Context, fields []string) (*Result, map[string]string, error) {
	arg := func(e *encoder) {
		if len(fields) == 0 {
			e.write("NIL", false)
			return
		}
		e.write("(", false)
		for i, f := range fields {
			if i > 0 {
				e.write(" ", false)
			}
			e.quoteString(f, false)
		}
		e.write(")", false)
	}
	if len(fields)%2 != 0 {
		return nil, nil, &Error{Kind: KindError, Command: "ID", Text: "ID fields come in name/value pairs"}
	}
	res, err := c.untagged(ctx, "ID", "ID", "ID", arg)
	if err != nil {
		return nil, nil, err
	}
	m, err := decodeLast(res, decodeID)
	if m == nil {
		return res, nil, err
	}
	return res, *m, err
}

// List lists mailboxes (imaplib's defaults: directory `""`, pattern "*").
func (c *Client) List(ctx context.Context, directory, pattern string) (*Result, []*ListEntry, error) {
	return c.list(ctx, "LIST", directory, pattern)
}

// Lsub lists subscribed mailboxes.
func (c *Client) Lsub(ctx context.Context, directory, pattern string) (*Result, []*ListEntry, error) {
	return c.list(ctx, "LSUB", directory, pattern)
}

func (c *Client) list(ctx context.Context, name, directory, pattern string) (*Result, []*ListEntry, error) {
	if directory == "" {
		directory = `""`
	}
	if pattern == "" {
		pattern = "*"
	}
	res, err := c.untagged(ctx, name, name, name, Mailbox(directory), Pattern(pattern))
	if err != nil {
		return nil, nil, err
	}
	l, err := decodeAll(res.responses, decodeList)
	return res, l, err
}

// Login identifies the client; the password is always quoted and shown as
// *** in traces. A non-OK reply is an error, as in imaplib.
func (c *Client) Login(ctx context.Context, user, password string) (*Result, error) {
	return c.LoginThen(ctx, user, password)
}

// LoginThen is Login with then pipelined behind the LOGIN, saving a
// round trip; they are sent before the outcome is known, so a failed
// LOGIN leaves them failed too (see each Command's Err). Not every server
// takes it: Courier drops what came in the same packet as LOGIN
// (TestCourierLoginPipeline), so the account library does not use it.
func (c *Client) LoginThen(ctx context.Context, user, password string, then ...*Command) (*Result, error) {
	cmd, err := c.commandThen(ctx, "LOGIN", "LOGIN", then, AString(user), Quote(password, true))
	if err != nil {
		return nil, err
	}
	if cmd.Status.Type != "OK" {
		return nil, statusError(KindError, "LOGIN", cmd.Status, "")
	}
	c.setStateAny(StateAuth)
	if err := c.refreshCaps(ctx, false); err != nil {
		return nil, err
	}
	return tagged(cmd), nil
}

// Logout ends the session; it never fails (imaplib returns NO with the
// error instead) and returns ("BYE", [text]) when the server says BYE.
func (c *Client) Logout(ctx context.Context) *Result {
	c.setStateAny(StateLogout)
	defer c.closeConn()
	if c.dead() != nil {
		return &Result{Type: "NO", Data: []Item{{Text: c.broken.Error()}}}
	}
	cmd, err := c.command(ctx, "LOGOUT", "LOGOUT")
	c.broken = &Error{Kind: KindAbort, Text: "connection closed after LOGOUT", Cause: CauseEOF}
	if err != nil {
		return &Result{Type: "NO", Data: []Item{{Text: err.Error()}}}
	}
	if bye := c.pop("BYE"); len(bye) > 0 {
		items, rs := flatten(bye)
		return &Result{Type: "BYE", Data: items, Status: cmd.Status, responses: rs}
	}
	if cmd.Status == nil {
		return &Result{Type: "NO", Data: []Item{{Text: "no reply to LOGOUT"}}}
	}
	return tagged(cmd)
}

// Namespace returns the server's namespaces (RFC 2342).
func (c *Client) Namespace(ctx context.Context) (*Result, *Namespaces, error) {
	res, err := c.untagged(ctx, "NAMESPACE", "NAMESPACE", "NAMESPACE")
	if err != nil {
		return nil, nil, err
	}
	ns, err := decodeLast(res, decodeNamespace)
	return res, ns, err
}

// Noop does nothing; untagged responses it brings stay in the store.
func (c *Client) Noop(ctx context.Context) (*Result, error) {
	if c.opts.Debug >= 3 {
		for k, v := range c.Untagged() {
			c.trace(3, "untagged responses dump: "+k+": "+strconv.Itoa(len(v)))
		}
	}
	return c.simple(ctx, "NOOP")
}

// ProxyAuth assumes the identity of user (Cyrus's PROXYAUTH).
func (c *Client) ProxyAuth(ctx context.Context, user string) (*Result, error) {
	return c.simple(ctx, "PROXYAUTH", AString(user))
}

// Recent pops RECENT data, sending NOOP first when there is none.
func (c *Client) Recent(ctx context.Context) (*Result, error) {
	if s := c.pop("RECENT"); len(s) > 0 {
		items, rs := flatten(s)
		return &Result{Type: "OK", Data: items, responses: rs}, nil
	}
	cmd, err := c.command(ctx, "NOOP", "NOOP")
	if err != nil {
		return nil, err
	}
	return c.untaggedResult(cmd, "RECENT"), nil
}

// Search searches the selected mailbox. criteria are sent as written.
func (c *Client) Search(ctx context.Context, charset string, criteria []string, uid bool) (*Result, []uint32, error) {
	args, err := c.searchArgs(charset, criteria)
	if err != nil {
		return nil, nil, err
	}
	name, st := optUID(uid, "SEARCH")
	if uid {
		st = "UID"
	}
	cmd, err := c.command(ctx, name, st, args...)
	if err != nil {
		return nil, nil, err
	}
	key := "SEARCH"
	if _, ok := c.store["SEARCH"]; !ok {
		if _, ok := c.store["ESEARCH"]; ok {
			key = "ESEARCH"
		}
	}
	res := c.untaggedResult(cmd, key)
	nums, err := decodeSearch(res.responses, c.opts.MaxExpand)
	return res, nums, err
}

func (c *Client) searchArgs(charset string, criteria []string) ([]Arg, error) {
	var args []Arg
	if charset != "" {
		if c.utf8 {
			return nil, &Error{Kind: KindError, Command: "SEARCH", Text: "Non-None charset not valid in UTF8 mode"}
		}
		args = append(args, Atom("CHARSET"), AString(charset))
	}
	for _, s := range criteria {
		args = append(args, Raw(s))
	}
	if len(criteria) == 0 {
		return nil, &Error{Kind: KindError, Command: "SEARCH", Text: "SEARCH needs criteria"}
	}
	return args, nil
}

// Sort is RFC 5256 SORT: criteria are parenthesised, charset is required
// by the RFC ("UTF-8").
func (c *Client) Sort(ctx context.Context, criteria, charset string, search []string, uid bool) (*Result, []uint32, error) {
	if charset == "" {
		charset = "UTF-8"
	}
	args := []Arg{Paren(criteria), AString(charset)}
	for _, s := range search {
		args = append(args, Raw(s))
	}
	name, st := optUID(uid, "SORT")
	if uid {
		st = "UID"
	}
	res, err := c.untagged(ctx, name, st, "SORT", args...)
	if err != nil {
		return nil, nil, err
	}
	nums, err := decodeSearch(res.responses, c.opts.MaxExpand)
	return res, nums, err
}

// Thread is RFC 5256 THREAD with algorithm (REFERENCES, ORDEREDSUBJECT).
func (c *Client) Thread(ctx context.Context, algorithm, charset string, search []string, uid bool) (*Result, []Thread, error) {
	if charset == "" {
		charset = "UTF-8"
	}
	args := []Arg{Atom(algorithm), AString(charset)}
	for _, s := range search {
		args = append(args, Raw(s))
	}
	name, st := optUID(uid, "THREAD")
	if uid {
		st = "UID"
	}
	res, err := c.untagged(ctx, name, st, "THREAD", args...)
	if err != nil {
		return nil, nil, err
	}
	var all []Thread
	for _, r := range res.responses {
		t, err := decodeThread(r, c.opts.MaxDepth)
		if err != nil {
			return res, all, err
		}
		all = append(all, t...)
	}
	return res, all, nil
}

// Select opens mailbox ("INBOX" when empty), with EXAMINE when readonly.
// A mailbox the server opens read-only when read-write was asked for is a
// readonly error, as in imaplib.
func (c *Client) Select(ctx context.Context, mailbox string, readonly bool) (*Result, *MailboxStatus, error) {
	return c.SelectThen(ctx, mailbox, readonly)
}

// SelectThen is Select with then pipelined behind the SELECT, in one
// round trip; if the SELECT fails they fail too (see each Command's Err).
func (c *Client) SelectThen(ctx context.Context, mailbox string, readonly bool, then ...*Command) (*Result, *MailboxStatus, error) {
	if mailbox == "" {
		mailbox = "INBOX"
	}
	if c.dead() == nil && c.idler == nil {
		c.storeReset()
	}
	name := "SELECT"
	if readonly {
		name = "EXAMINE"
	}
	c.readonly = readonly
	cmd, err := c.commandThen(ctx, name, name, then, Mailbox(mailbox))
	if err != nil {
		return nil, nil, err
	}
	if cmd.Status.Type != "OK" {
		c.setState(StateAuth)
		return tagged(cmd), nil, nil
	}
	c.setStateAny(StateSelected)
	st := c.mailboxStatus(cmd)
	if _, ro := c.store["READ-ONLY"]; ro && !readonly {
		return nil, st, &Error{Kind: KindReadOnly, Command: name, Code: "READ-ONLY", Text: strconv.Quote(mailbox) + " is not writable"}
	}
	items, rs := flatten(c.store["EXISTS"])
	return &Result{Type: "OK", Data: items, Status: cmd.Status, responses: rs}, st, nil
}

// StartTLS upgrades the connection (RFC 2595). Bytes the server sent
// before the handshake are thrown away, never read as if they came over TLS.
func (c *Client) StartTLS(ctx context.Context, cfg *tls.Config) (*Result, error) {
	if c.tlsActive {
		return nil, &Error{Kind: KindAbort, Command: "STARTTLS", Text: "TLS session already established"}
	}
	if !c.HasCap("STARTTLS") {
		return nil, &Error{Kind: KindAbort, Command: "STARTTLS", Text: "TLS not supported by server"}
	}
	cmd, err := c.command(ctx, "STARTTLS", "STARTTLS")
	if err != nil {
		return nil, err
	}
	if cmd.Status.Type != "OK" {
		return nil, statusError(KindError, "STARTTLS", cmd.Status, "Couldn't establish TLS session")
	}
	if n := c.r.buffered(); n > 0 {
		c.trace(1, "discarding "+strconv.Itoa(n)+" bytes received before the TLS handshake")
	}
	nc, ok := c.c.(net.Conn)
	if !ok {
		return nil, &Error{Kind: KindError, Command: "STARTTLS", Text: "STARTTLS needs a socket connection"}
	}
	if cfg == nil {
		cfg = c.opts.TLSConfig
	}
	tc, err := tlsopt.Handshake(ctx, nc, cfg, c.host, c.opts.Timeout)
	if err != nil {
		e := &Error{Kind: KindAbort, Command: "STARTTLS", Text: "TLS handshake: " + err.Error(), Cause: CauseTLS, Err: err}
		c.broken = e
		c.setStateAny(StateLogout)
		nc.Close()
		return nil, e
	}
	c.setConn(tc)
	c.tlsActive = true
	// RFC 3501 6.2.1: nothing learnt before TLS is trusted after it
	c.storeReset()
	c.setCaps("")
	if err := c.refreshCaps(ctx, false); err != nil {
		return nil, err
	}
	return tagged(cmd), nil
}

// Status asks for mailbox's status items, e.g. "(MESSAGES UNSEEN)".
func (c *Client) Status(ctx context.Context, mailbox, names string) (*Result, *StatusData, error) {
	res, err := c.untagged(ctx, "STATUS", "STATUS", "STATUS", Mailbox(mailbox), Paren(names))
	if err != nil {
		return nil, nil, err
	}
	st, err := decodeLast(res, decodeStatus)
	return res, st, err
}

// UID runs command (COPY, FETCH, MOVE, SEARCH, SORT, STORE, THREAD,
// EXPUNGE) with UIDs, taking imaplib's argument lists. The parsed value
// is the one the plain method returns.
func (c *Client) UID(ctx context.Context, command string, args ...string) (*Result, any, error) {
	command = strings.ToUpper(command)
	if _, ok := commandStates[command]; !ok {
		return nil, nil, &Error{Kind: KindError, Command: "UID", Text: "Unknown IMAP4 UID command: " + command}
	}
	need := func(n int) error {
		if len(args) < n {
			return &Error{Kind: KindError, Command: "UID", Text: "UID " + command + " needs " + strconv.Itoa(n) + " arguments"}
		}
		return nil
	}
	if err := c.checkState(command); err != nil {
		return nil, nil, err
	}
	switch command {
	case "FETCH":
		if err := need(2); err != nil {
			return nil, nil, err
		}
		return wrap3(c.Fetch(ctx, args[0], args[1], true))
	case "STORE":
		if err := need(3); err != nil {
			return nil, nil, err
		}
		return wrap3(c.Store(ctx, args[0], args[1], args[2], true))
	case "COPY", "MOVE":
		if err := need(2); err != nil {
			return nil, nil, err
		}
		return wrap3(c.copyMove(ctx, command, args[0], args[1], true))
	case "SEARCH":
		if err := need(1); err != nil {
			return nil, nil, err
		}
		charset, crit := "", args
		if strings.EqualFold(args[0], "CHARSET") && len(args) > 2 {
			charset, crit = args[1], args[2:]
		}
		return wrap3(c.Search(ctx, charset, crit, true))
	case "SORT":
		if err := need(3); err != nil {
			return nil, nil, err
		}
		return wrap3(c.Sort(ctx, args[0], args[1], args[2:], true))
	case "THREAD":
		if err := need(3); err != nil {
			return nil, nil, err
		}
		return wrap3(c.Thread(ctx, args[0], args[1], args[2:], true))
	case "EXPUNGE":
		if err := need(1); err != nil {
			return nil, nil, err
		}
		return wrap3(c.UIDExpunge(ctx, args[0]))
	}
	var a []Arg
	for _, s := range args {
		a = append(a, Raw(s))
	}
	res, err := c.untagged(ctx, "UID "+command, "UID", "FETCH", a...)
	return res, nil, err
}

func wrap3[T any](r *Result, v T, err error) (*Result, any, error) { return r, v, err }

// Xatom sends a command the client does not know, allowing it in the
// current state; its args are sent as written.
func (c *Client) Xatom(ctx context.Context, name string, args ...string) (*Result, error) {
	name = strings.ToUpper(name)
	if !validAtom(name) {
		return nil, &Error{Kind: KindError, Command: "XATOM", Text: "bad command name " + strconv.Quote(name) + ": a command name is one atom"}
	}
	if _, ok := commandStates[name]; !ok {
		if _, ok := c.xstates[name]; !ok {
			if c.xstates == nil {
				c.xstates = map[string]string{}
			}
			c.xstates[name] = string(stateLetter[c.State()])
		}
	}
	var a []Arg
	for _, s := range args {
		a = append(a, Raw(s))
	}
	return c.simple(ctx, name, a...)
}

// Send writes data to the server as it is (imaplib's send()).
func (c *Client) Send(ctx context.Context, data []byte) error {
	if c.dead() != nil {
		return c.broken
	}
	stop := c.watch(ctx)
	defer stop()
	if c.opts.Audit != nil {
		c.opts.Audit("imaplib.send", string(data))
	}
	c.trace(4, "> "+string(data))
	if _, err := c.w.Write(data); err != nil {
		return c.fail(ctx, "SEND", err)
	}
	if err := c.w.Flush(); err != nil {
		return c.fail(ctx, "SEND", err)
	}
	return nil
}

// ReadLine reads one line from the server (imaplib's readline()).
func (c *Client) ReadLine(ctx context.Context) ([]byte, error) {
	if c.dead() != nil {
		return nil, c.broken
	}
	stop := c.watch(ctx)
	defer stop()
	line, err := c.r.readLine()
	if err != nil {
		return nil, c.fail(ctx, "READLINE", c.readErr(err))
	}
	return append([]byte(nil), line...), nil
}

// Read reads exactly n bytes from the server (imaplib's read()).
func (c *Client) Read(ctx context.Context, n int64) ([]byte, error) {
	if c.dead() != nil {
		return nil, c.broken
	}
	if n > c.opts.MaxLiteral {
		return nil, &Error{Kind: KindError, Text: "read of " + strconv.FormatInt(n, 10) + " bytes exceeds the limit"}
	}
	stop := c.watch(ctx)
	defer stop()
	b, err := c.r.readFull(n)
	if err != nil {
		return nil, c.fail(ctx, "READ", err)
	}
	return b, nil
}

// Time2Internaldate formats t as a quoted INTERNALDATE ("dd-Mon-yyyy hh:mm:ss +zzzz").
func Time2Internaldate(t time.Time) string {
	return `"` + t.Format("02-Jan-2006 15:04:05 -0700") + `"`
}
