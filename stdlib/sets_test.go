package stdlib

import (
	"slices"
	"strings"
	"testing"

	"github.com/mailscript/mailscript/protocol/imap"
)

func TestWavesKeepDependentActionsApart(t *testing.T) {
	a := &account{}
	none := func(string) []imap.Arg { return nil }
	many := make([]uint32, 4000) // several chunks, one action
	for i := range many {
		many[i] = uint32(1000 + 3*i)
	}
	a.enqueue("UID STORE", []uint32{1, 2, 3}, "", none) // flag 1:3
	a.enqueue("UID MOVE", []uint32{4, 5}, "", none)     // disjoint: same wave
	a.enqueue("UID MOVE", many, "", none)               // disjoint: same wave
	a.enqueue("UID MOVE", []uint32{3, 9}, "", none)     // 3 was flagged: next wave
	a.enqueue("UID STORE", []uint32{7}, "", none)       // disjoint from that wave
	a.enqueue("UID EXPUNGE", []uint32{7}, "", none)     // after its STORE
	var got []int
	for _, w := range waves(a.queue) {
		got = append(got, len(w))
	}
	chunksOfMany := len(chunks(many))
	if chunksOfMany < 2 {
		t.Fatalf("want several chunks, got %d", chunksOfMany)
	}
	want := []int{2 + chunksOfMany, 2, 1}
	if len(got) != len(want) {
		t.Fatalf("waves %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("waves %v, want %v", got, want)
		}
	}
	if waves(nil) != nil {
		t.Fatal("an empty queue makes no wave")
	}
}

// The typed chunks send what the text chunks did: the same sets, each
// within maxSetLen.
func TestUIDChunksAsText(t *testing.T) {
	var many []uint32
	for i := range 9000 {
		many = append(many, uint32(1_000_000+2*i+i%3/2)) // runs and gaps
	}
	for _, uids := range [][]uint32{nil, {7}, {1, 2, 3, 5}, {4294967294, 4294967295}, many} {
		sets, text := uidChunks(uids), chunks(uids)
		if len(sets) != len(text) || len(uids) == 0 && text != nil {
			t.Fatalf("%d sets, %d texts", len(sets), len(text))
		}
		var back []uint32
		for i, s := range sets {
			if s.String() != text[i] || len(text[i]) > maxSetLen {
				t.Fatalf("chunk %d: %q, %d bytes", i, text[i], len(text[i]))
			}
			u, err := s.Ranges().Expand(len(uids))
			if err != nil {
				t.Fatal(err)
			}
			back = append(back, u...)
		}
		if !slices.Equal(back, uids) {
			t.Fatalf("chunks hold %d UIDs of %d", len(back), len(uids))
		}
		if len(uids) == len(many) && (len(text) < 2 || len(text[0])+len(text[1][:strings.IndexByte(text[1], ',')])+1 <= maxSetLen) {
			t.Fatalf("chunks not filled: %d", len(text))
		}
	}
}
