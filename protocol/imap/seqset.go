package imap

import (
	"fmt"
	"strconv"
	"strings"
)

// SeqRange is the numbers Lo to Hi, both included.
type SeqRange struct{ Lo, Hi uint32 }

// Star in a [SeqRange] is "*", the largest number (or UID) in use: no
// message has number or UID 0, so SeqRange{5, Star} sends as "5:*".
// [SeqSet.Len] and [SeqSet.Expand] count numbers and are for sets
// without it.
const Star uint32 = 0

// SeqSet is a set of message numbers or UIDs kept as the ranges the
// server sent ("1:9999999" costs one range, not ten million numbers).
type SeqSet []SeqRange

// ParseSeqSet reads a sequence set of numbers ("1:3,7"); "*" is refused.
func ParseSeqSet(s string) (SeqSet, error) {
	if s == "" {
		return nil, fmt.Errorf("empty sequence set")
	}
	out := make(SeqSet, 0, strings.Count(s, ",")+1)
	for r := range strings.SplitSeq(s, ",") {
		a, b, isRange := strings.Cut(r, ":")
		lo, err1 := strconv.ParseUint(a, 10, 32)
		hi := lo
		var err2 error
		if isRange {
			hi, err2 = strconv.ParseUint(b, 10, 32)
		}
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("bad sequence set %q", s)
		}
		if lo > hi {
			lo, hi = hi, lo
		}
		out = append(out, SeqRange{uint32(lo), uint32(hi)})
	}
	return out, nil
}

// Len is how many numbers s holds (repeats counted).
func (s SeqSet) Len() uint64 {
	var n uint64
	for _, r := range s {
		n += uint64(r.Hi-r.Lo) + 1
	}
	return n
}

// Expand returns s's numbers in order, refusing more than limit of them.
func (s SeqSet) Expand(limit int) ([]uint32, error) { return s.appendTo(nil, limit) }

// appendTo appends s's numbers to out, refusing to make out longer than
// limit; nothing is allocated for a set over the limit.
func (s SeqSet) appendTo(out []uint32, limit int) ([]uint32, error) {
	if uint64(len(out))+s.Len() > uint64(max(limit, 0)) {
		return out, fmt.Errorf("sequence set of %d numbers is more than the limit of %d (Options.MaxExpand)", s.Len(), limit)
	}
	out = append(out, make([]uint32, 0, s.Len())...)
	for _, r := range s {
		for n := uint64(r.Lo); n <= uint64(r.Hi); n++ {
			out = append(out, uint32(n))
		}
	}
	return out, nil
}

// String renders s in IMAP syntax.
func (s SeqSet) String() string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(seqNumber(r.Lo))
		if r.Hi != r.Lo {
			b.WriteByte(':')
			b.WriteString(seqNumber(r.Hi))
		}
	}
	return b.String()
}

func seqNumber(n uint32) string {
	if n == Star {
		return "*"
	}
	return strconv.FormatUint(uint64(n), 10)
}

// ESearch is an ESEARCH response (RFC 4731), its ALL kept as ranges.
type ESearch struct {
	Tag                      string // the command's tag, from (TAG "...")
	UID                      bool
	Min, Max, Count          uint32
	HasMin, HasMax, HasCount bool
	All                      SeqSet
	ModSeq                   uint64
}

// ESearch is the result's ESEARCH response (RFC 4731: MIN, MAX, COUNT,
// ALL), decoded, or nil when the server sent none.
func (r *Result) ESearch() (*ESearch, error) {
	if r == nil {
		return nil, nil
	}
	for _, resp := range r.responses {
		if resp.Type == "ESEARCH" {
			return decodeESearch(resp)
		}
	}
	return nil, nil
}

// decodeESearch decodes an ESEARCH response without expanding its sets.
func decodeESearch(r *Response) (*ESearch, error) {
	if r.Type != "ESEARCH" {
		return nil, bad(r, "not an ESEARCH response")
	}
	vs, err := r.parser(0).rest()
	if err != nil {
		return nil, err
	}
	es := &ESearch{}
	i := 0
	if i < len(vs) && vs[i].Kind == VList {
		l := vs[i].List
		if len(l) == 2 && strings.EqualFold(l[0].S, "TAG") {
			es.Tag = l[1].S
		}
		i++
	}
	if i < len(vs) && vs[i].Kind == VAtom && strings.EqualFold(vs[i].S, "UID") {
		es.UID = true
		i++
	}
	for ; i+1 < len(vs); i += 2 {
		name, v := strings.ToUpper(vs[i].S), vs[i+1]
		num := func() (uint32, error) {
			n, ok := v.Number()
			if !ok || n > 0xffffffff {
				return 0, bad(r, "bad number in ESEARCH "+name)
			}
			return uint32(n), nil
		}
		switch name {
		case "MIN":
			es.Min, err = num()
			es.HasMin = true
		case "MAX":
			es.Max, err = num()
			es.HasMax = true
		case "COUNT":
			es.Count, err = num()
			es.HasCount = true
		case "ALL":
			if es.All, err = ParseSeqSet(v.S); err != nil {
				err = bad(r, err.Error())
			}
		case "MODSEQ":
			es.ModSeq, _ = v.Number()
		}
		if err != nil {
			return nil, err
		}
	}
	return es, nil
}
