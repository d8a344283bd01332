package oauth

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
)

// Sources hands out one [Source] per stored account name, so every
// connection of a process shares its access token and its refreshes.
type Sources struct {
	Store *Store
	// Allow, if not nil, are the only names granted (a sandboxed
	// script gets only what the host allows).
	Allow []string
	// HTTPClient makes the token requests (http.DefaultClient when nil).
	HTTPClient *http.Client

	mu sync.Mutex
	m  map[string]*Source
}

// Source is the source of account name, loaded on first use.
func (s *Sources) Source(name string) (*Source, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	if s.Allow != nil && !slices.Contains(s.Allow, name) {
		return nil, fmt.Errorf("oauth account %q is not granted to this script (the host allows %v)", name, s.Allow)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if src := s.m[name]; src != nil {
		return src, nil
	}
	a, err := s.Store.Load(name)
	if err != nil {
		return nil, err
	}
	src := NewSource(s.Store, a)
	src.HTTPClient = s.HTTPClient
	if s.m == nil {
		s.m = map[string]*Source{}
	}
	s.m[name] = src
	return src, nil
}
