package stdlib

import (
	"context"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/bindings"
	"github.com/mailscript/mailscript/protocol/imap"
)

// highestUIDPlusOne stands in for a UIDNEXT the server left out (RFC 3501
// allows it; Courier's SELECT never sends one): it selects m and asks for
// the UID of the last message; an empty mailbox gives 1. UIDs above it
// may have been used and expunged, so it is a lower bound, which is what
// "report what is new from here" needs.
func (m *mailbox) highestUIDPlusOne(L *lua.LState, ctx context.Context) (uint32, error) {
	m.use(L)
	cmd := imap.FetchItems(imap.UIDSet{{Lo: imap.Star, Hi: imap.Star}}, "(UID)")
	if err := m.a.c.Execute(ctx, cmd); err != nil {
		return 0, err
	}
	next := uint32(1)
	for _, r := range cmd.Untagged {
		if r.Type != "FETCH" {
			continue
		}
		if f, err := r.Fetch(); err == nil && f.UID >= next {
			next = f.UID + 1
		}
	}
	return next, nil
}

// searchFrom is UID SEARCH UID first:*, the messages from first on.
func searchFrom(first uint32) *imap.Command {
	return imap.Search(true, imap.Atom("UID"), imap.SetArg(imap.UIDSet{{Lo: first, Hi: imap.Star}}))
}

// uidsFrom is the hits of cmd, a searchFrom(first), at or above first,
// sorted and without repeats: first:* holds the highest UID even when it
// is below first (RFC 3501 §6.4.8).
func uidsFrom(cmd *imap.Command, first uint32) ([]uint32, error) {
	found, err := cmd.Numbers(imap.DefaultMaxExpand)
	var out []uint32
	for _, u := range found {
		if u >= first {
			out = append(out, u)
		}
	}
	return normalize(out), err
}

// uidNextOf is st's UIDNEXT, or the fallback when it is absent.
func (m *mailbox) uidNextOf(L *lua.LState, ctx context.Context, st *imap.StatusData) uint32 {
	if st != nil && st.UIDNext > 0 {
		return uint32(st.UIDNext)
	}
	n, err := m.highestUIDPlusOne(L, ctx)
	if err != nil {
		bindings.Raise(L, err)
	}
	return n
}
