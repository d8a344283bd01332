package sieve

import (
	"sync"
	"time"
)

// Env is what one run needs besides the message: the world the script looks at.
type Env struct {
	Envelope       *Envelope                     // nil over IMAP: the envelope test is then a runtime error
	Mailbox        string                        // the mailbox the message is in (imap.mailbox)
	MailboxExists  func(string) bool             // mailboxexists and fileinto checks; nil: every mailbox exists
	SpecialUse     func(mailbox string) []string // special-use attributes of a mailbox; nil: none
	FindSpecialUse func(use string) string       // the mailbox with a special-use attribute, "" when none
	Now            time.Time                     // for currentdate; zero: time.Now()
	Environment    map[string]string             // overrides and additions to the environment items
	Duplicates     DuplicateStore                // nil: every message is new
	SubaddressSep  string                        // default "+"

	SpamHeader  string         // default "X-Spam-Score"
	SpamMax     float64        // default 10
	VirusHeader string         // default "X-Virus-Scan"
	VirusRegexp string         // default `Found to be (.+)\.`; ${1} is looked up in VirusLevels
	VirusLevels map[string]int // default clean=1, infected=5

	// Test reports redirect, reject, ereject and vacation as actions (mailscript sieve test);
	// without it, a script compiled with StoredMail never reaches them.
	Test bool
}

// DuplicateStore remembers message identifiers for the duplicate test (RFC 7352).
type DuplicateStore interface {
	Seen(id string) bool
	Mark(id string, until time.Time)
}

// MemoryDuplicates is a DuplicateStore in memory, safe for concurrent use.
type MemoryDuplicates struct {
	mu   sync.Mutex
	seen map[string]time.Time
	now  func() time.Time
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
