package imap

import (
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
