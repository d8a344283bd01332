//go:build sievediff

package stdlib_test

import "testing"

// The differential against sieve-filter on a larger mailbox (scripts/sieve-diff.sh).
func TestSieveRunDifferentialLarge(t *testing.T) { sieveDiff(t, 2000) }
