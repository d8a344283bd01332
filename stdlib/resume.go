package stdlib

import (
	"fmt"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/bindings"
	"github.com/mailscript/mailscript/protocol/imap"
)

// A move without MOVE is COPY, STORE \Deleted, UID EXPUNGE: a run stopped
// between them leaves copies in the destination beside originals still in
// the source (marked \Deleted or not). A rerun must finish that move, not
// repeat it, so before copying, resumeMove looks in the destination for
// each original's Message-ID: what is already there is not copied again,
// only deleted from the source. Messages without a Message-ID are copied
// as before (nothing is lost, a duplicate is possible).

// arrived splits s's UIDs into those to copy and those whose Message-ID
// the destination already holds (as many times as the source does), and
// returns which of the ones to copy are marked \Deleted.
func (s *set) arrived(L *lua.LState, dest *mailbox) (toCopy, there, deleted []uint32) {
	a := s.mbox.a
	if len(s.uids) > maxResumeIDs { // the ENVELOPEs would cost too much memory
		return s.uids, nil, nil
	}
	s.mbox.use(L)
	msgs, err := a.fetchAll(L, s.uids, "(UID FLAGS ENVELOPE)")
	if err != nil {
		bindings.Raise(L, err)
	}
	ids := map[uint32]string{}
	isDeleted := map[uint32]bool{}
	var order []string // distinct Message-IDs, in UID order
	seen := map[string]bool{}
	for _, m := range msgs {
		if m.Resolve() != nil || m.Envelope == nil {
			continue
		}
		if id := m.Envelope.MessageID; id != "" {
			if _, dup := seen[id]; !dup {
				seen[id] = true
				order = append(order, id)
			}
			ids[m.UID] = id
		}
		for _, f := range m.Flags {
			if f == `\Deleted` {
				isDeleted[m.UID] = true
			}
		}
	}
	found := map[string]int{}
	if len(order) > 0 {
		found = dest.countIDs(L, order)
	}
	for _, u := range s.uids {
		if id, ok := ids[u]; ok && found[id] > 0 {
			found[id]--
			there = append(there, u)
			continue
		}
		toCopy = append(toCopy, u)
		if isDeleted[u] {
			deleted = append(deleted, u)
		}
	}
	return toCopy, there, deleted
}

// maxResumeIDs bounds the messages a move checks in the destination (their
// ENVELOPEs are held at once); a larger move is copied without the check.
const maxResumeIDs = 20000

// idsPerSearch Message-IDs go in one SEARCH, ORed.
const idsPerSearch = 20

// countIDs examines m and counts its messages with each of ids: the
// SEARCHes go pipelined (idsPerSearch each), then the hits' ENVELOPEs
// tell which Message-ID each has. A missing mailbox holds none. The
// EXAMINE goes alone: Courier ends a session after a run of commands
// sent with no mailbox selected. m is left selected read-only.
func (m *mailbox) countIDs(L *lua.LState, ids []string) map[string]int {
	a := m.a
	a.sync(L)
	out := map[string]int{}
	res, st, err := a.c.Select(bindings.Ctx(L), m.server, true)
	if err != nil {
		bindings.Raise(L, err)
	}
	if res.Type != "OK" { // no such mailbox (yet): nothing arrived
		a.selected = ""
		return out
	}
	a.noteSelected(m.server, true, st)
	var hits []uint32
	var cmds []*imap.Command
	for start := 0; start < len(ids); start += idsPerSearch {
		part := ids[start:min(start+idsPerSearch, len(ids))]
		var args []imap.Arg
		for i, id := range part {
			if i < len(part)-1 {
				args = append(args, imap.Atom("OR"))
			}
			args = append(args, imap.Atom("HEADER"), imap.Atom("Message-ID"), imap.AString(id))
		}
		search := imap.Search(true, args...)
		search.OnUntagged = func(r *imap.Response) {
			if r.Type == "SEARCH" {
				// a hostile server's hits are bounded: past the cap the rest
				// is ignored (those messages are copied: no loss)
				if uids, err := r.SearchNumbers(imap.DefaultMaxExpand); err == nil && len(hits) < 2*maxResumeIDs {
					hits = append(hits, uids[:min(len(uids), 2*maxResumeIDs-len(hits))]...)
				}
			}
		}
		cmds = append(cmds, search)
	}
	a.execute(L, cmds...)
	if c := firstErr(cmds); c != nil {
		bindings.Raise(L, c.Err())
	}
	if len(hits) == 0 {
		return out
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	msgs, err := a.fetchAll(L, normalize(hits), "(UID ENVELOPE)")
	if err != nil {
		bindings.Raise(L, err)
	}
	for _, msg := range msgs {
		if msg.Resolve() == nil && msg.Envelope != nil && want[msg.Envelope.MessageID] {
			out[msg.Envelope.MessageID]++
		}
	}
	return out
}

// moveByCopy is a move without MOVE that finishes an interrupted one: it
// copies only what dest lacks, after taking \Deleted off those originals
// (a copy would carry it), then marks and expunges the whole set.
func (s *set) moveByCopy(L *lua.LState, dest *mailbox, create bool) string {
	toCopy, there, deleted := s.arrived(L, dest)
	s.mbox.ready(L)
	if len(deleted) > 0 {
		(&set{mbox: s.mbox, uids: deleted}).store(L, "-FLAGS.SILENT", `\Deleted`)
	}
	if len(toCopy) > 0 {
		(&set{mbox: s.mbox, uids: toCopy}).transfer(L, "COPY", dest, create, true)
	}
	s.store(L, "+FLAGS.SILENT", `\Deleted`)
	note := s.expunge(L)
	if len(there) > 0 {
		resumed := fmt.Sprintf("%d already in %s (by Message-ID), not copied again", len(there), dest.name)
		if note != "" {
			resumed += "; " + note
		}
		note = resumed
	}
	return note
}
