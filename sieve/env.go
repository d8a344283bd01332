package sieve

import (
	"encoding/json"
	"sync"
	"time"
)

// Env is what one run needs besides the message: the world the script looks at.
type Env struct {
	Envelope       *Envelope                     // nil over IMAP: the envelope test is then a runtime error
	Mailbox        string                        // the mailbox the message is in (imap.mailbox)
	MailboxExists  func(string) bool             // for mailboxexists; nil: every mailbox exists (a missing fileinto target fails when applied)
	SpecialUse     func(mailbox string) []string // special-use attributes of a mailbox; nil: none
	FindSpecialUse func(use string) string       // the mailbox with a special-use attribute, "" when none
	Now            time.Time                     // for currentdate; zero: time.Now()
	Environment    map[string]string             // overrides and additions to the environment items
	Duplicates     DuplicateStore                // nil: every message is new
	SubaddressSep  string                        // default "+"

	Spam  *ScoreTest // spamtest's source; nil: X-Spam-Score, a score out of 10
	Virus *ScoreTest // virustest's source; nil: X-Virus-Scan "Found to be clean." (1) or "infected." (5)

}

// ScoreTest says where spamtest or virustest reads its value (RFC 5235 leaves it to the
// implementation), as Pigeonhole's sieve_spamtest_* and sieve_virustest_* settings do.
type ScoreTest struct {
	Header    string         // "Name", or "Name:regexp" whose first group is the status
	Type      string         // "score" (default), "strlen" (a run of one character) or "text"
	Max       float64        // the highest status, for score and strlen
	MaxHeader string         // "Name[:regexp]" holding the highest status, instead of Max
	Text      map[string]int // for text: status -> 0..10 (0..5 for virustest)
}

var (
	defaultSpam  = &ScoreTest{Header: "X-Spam-Score", Type: "score", Max: 10}
	defaultVirus = &ScoreTest{Header: `X-Virus-Scan:Found to be (.+)\.`, Type: "text", Text: map[string]int{"clean": 1, "infected": 5}}
)

// DuplicateStore remembers message identifiers for the duplicate test (RFC 7352).
type DuplicateStore interface {
	Seen(id string) bool
	Mark(id string, until time.Time)
}

// MemoryDuplicates is a DuplicateStore in memory, safe for concurrent use.
type MemoryDuplicates struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

// Seen reports whether id was marked and has not expired.
func (d *MemoryDuplicates) Seen(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.seen[id]
	return ok && time.Now().Before(t)
}

// Mark remembers id until the given time.
func (d *MemoryDuplicates) Mark(id string, until time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.seen == nil {
		d.seen = map[string]time.Time{}
	}
	d.seen[id] = until
}

// MarshalJSON writes the identifiers not yet expired with their expiry, so
// a host can keep them between runs (RFC 7352 §3: the tracking outlives one
// delivery).
func (d *MemoryDuplicates) MarshalJSON() ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	live := map[string]time.Time{}
	for id, t := range d.seen {
		if now.Before(t) {
			live[id] = t
		}
	}
	return json.Marshal(live)
}

// UnmarshalJSON reads what MarshalJSON wrote, adding to what is held.
func (d *MemoryDuplicates) UnmarshalJSON(b []byte) error {
	var in map[string]time.Time
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	for id, t := range in {
		d.Mark(id, t)
	}
	return nil
}
