// Package pgstore keeps mailscript's state documents and mailbox leases in
// PostgreSQL, so several instances can share a list of accounts.
//
// A *Store is a stdlib.Store (Load, Save, Lock) and has the method set of
// watch.Leaser (Acquire, Release). Lease times use the database's clock,
// so the instances' clocks do not matter. Save is fenced: it fails with
// ErrLeaseLost while another owner holds the name's lease, so an instance
// that lost its mailbox cannot overwrite the new owner's progress.
package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrLeaseLost is returned by Save when another owner holds the name's
// lease. Its LeaseLost method is how stdlib's watchers recognise it
// without importing this package.
var ErrLeaseLost error = leaseLostError{}

type leaseLostError struct{}

func (leaseLostError) Error() string   { return "pgstore: lease held by another owner" }
func (leaseLostError) LeaseLost() bool { return true }

// ErrLocked is returned by Lock when another run holds the lock.
var ErrLocked = errors.New("pgstore: locked by another run")

// opTimeout bounds each Load, Save and Lock (they take no context).
const opTimeout = 30 * time.Second

// LockTTL is how long a Lock outlives a crashed holder; it is renewed
// every LockTTL/3 while held.
const LockTTL = time.Minute

const schema = `
CREATE TABLE IF NOT EXISTS mailscript_state (
	name text PRIMARY KEY,
	data bytea NOT NULL,
	updated timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS mailscript_lease (
	name text PRIMARY KEY,
	owner text NOT NULL,
	expires timestamptz NOT NULL
)`

// schemaLock is the advisory lock key that serialises schema creation:
// concurrent CREATE TABLE IF NOT EXISTS can still collide in pg_type.
const schemaLock = 0x6d61696c73637231

// Store is a connection pool plus the owner name this instance leases as.
type Store struct {
	pool  *pgxpool.Pool
	owner string
}

// Open connects to dsn, creates the tables if missing, and returns a Store
// whose Lock leases as owner. Errors never include the DSN's password.
func Open(ctx context.Context, dsn, owner string) (*Store, error) {
	if owner == "" {
		return nil, errors.New("pgstore: empty owner")
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors redact the password already; say no more.
		return nil, fmt.Errorf("pgstore: bad DSN: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: connect %s: %w", Redact(cfg), err)
	}
	s := &Store{pool: pool, owner: owner}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: %s: %w", Redact(cfg), err)
	}
	return s, nil
}

// Redact names the server and database of cfg without credentials.
func Redact(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return fmt.Sprintf("postgres://%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}

func (s *Store) migrate(ctx context.Context) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(schemaLock)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, schema)
		return err
	})
}

// Close closes the pool.
func (s *Store) Close() { s.pool.Close() }

// Owner is the name this Store leases as.
func (s *Store) Owner() string { return s.owner }

// Load returns name's document, or nil, nil when there is none.
func (s *Store) Load(name string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	var data []byte
	err := s.pool.QueryRow(ctx, `SELECT data FROM mailscript_state WHERE name = $1`, name).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: load %q: %w", name, err)
	}
	return data, nil
}

// Save writes name's document unless another owner holds name's lease
// unexpired (ErrLeaseLost). The lease row is locked while writing, so a
// takeover waits for the write or the write sees the takeover.
func (s *Store) Save(name string, data []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if data == nil {
		data = []byte{}
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var other bool
		err := tx.QueryRow(ctx, `SELECT owner <> $2 AND expires > now() FROM mailscript_lease
			WHERE name = $1 FOR UPDATE`, name, s.owner).Scan(&other)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if other {
			return ErrLeaseLost
		}
		_, err = tx.Exec(ctx, `INSERT INTO mailscript_state (name, data) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET data = excluded.data, updated = now()`, name, data)
		return err
	})
	if err != nil && !errors.Is(err, ErrLeaseLost) {
		return fmt.Errorf("pgstore: save %q: %w", name, err)
	}
	return err
}

// Acquire takes or renews name's lease for owner until the database's
// now()+ttl. It returns false while another owner holds it unexpired.
func (s *Store) Acquire(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, errors.New("pgstore: lease ttl must be positive")
	}
	var got string
	err := s.pool.QueryRow(ctx, `INSERT INTO mailscript_lease (name, owner, expires)
		VALUES ($1, $2, now() + $3 * interval '1 microsecond')
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires = excluded.expires
		WHERE mailscript_lease.owner = excluded.owner OR mailscript_lease.expires <= now()
		RETURNING owner`, name, owner, ttl.Microseconds()).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("pgstore: acquire %q: %w", name, err)
	}
	return got == owner, nil
}

// Holders counts the owners of unexpired leases whose names start with
// prefix: the live instances, when each keeps a lease of its own there.
func (s *Store) Holders(ctx context.Context, prefix string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(DISTINCT owner) FROM mailscript_lease
		WHERE starts_with(name, $1) AND expires > now()`, prefix).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("pgstore: holders %q: %w", prefix, err)
	}
	return n, nil
}

// Release gives up owner's lease of name; it does nothing if owner does
// not hold it.
func (s *Store) Release(ctx context.Context, name, owner string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM mailscript_lease WHERE name = $1 AND owner = $2`, name, owner)
	if err != nil {
		return fmt.Errorf("pgstore: release %q: %w", name, err)
	}
	return nil
}

// Lock takes name's run lock (a lease on "lock:"+name with an owner unique
// to this call, renewed until unlock), or fails at once with ErrLocked.
// It is separate from the mailbox lease, so unlocking never drops it.
func (s *Store) Lock(name string) (func(), error) {
	var b [8]byte
	rand.Read(b[:])
	key, owner := "lock:"+name, s.owner+"#"+hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	ok, err := s.Acquire(ctx, key, owner, LockTTL)
	cancel()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrLocked, name)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(LockTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
				s.Acquire(ctx, key, owner, LockTTL)
				cancel()
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			<-done
			ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
			s.Release(ctx, key, owner)
			cancel()
		})
	}, nil
}
