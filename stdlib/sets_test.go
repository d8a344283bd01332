package stdlib

import (
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
