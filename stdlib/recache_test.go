package stdlib

import (
	"fmt"
	"testing"
)

// A run that compiles patterns without end keeps at most reCacheSize,
// the most recently used.
func TestReCacheIsBounded(t *testing.T) {
	c := newReCache()
	first, _ := c.get("keep")
	for i := 0; i < 10*reCacheSize; i++ {
		if _, err := c.get(fmt.Sprintf("p%d", i)); err != nil {
			t.Fatal(err)
		}
		c.get("keep")
	}
	if c.order.Len() != reCacheSize || len(c.byPat) != reCacheSize {
		t.Fatalf("%d patterns kept", c.order.Len())
	}
	if again, _ := c.get("keep"); again != first {
		t.Fatal("the pattern in use was dropped")
	}
	if _, err := c.get("("); err == nil {
		t.Fatal("bad pattern accepted")
	}
}
