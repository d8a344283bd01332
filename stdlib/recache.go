package stdlib

import (
	"container/list"
	"regexp"
)

// reCacheSize bounds the compiled patterns one run keeps.
const reCacheSize = 256

// reCache is an LRU of compiled patterns, one per run: bounded, and no
// run sees another's patterns.
type reCache struct {
	order *list.List // front: most recently used
	byPat map[string]*list.Element
}

type reEntry struct {
	pat string
	re  *regexp.Regexp
}

func newReCache() *reCache {
	return &reCache{order: list.New(), byPat: map[string]*list.Element{}}
}

func (c *reCache) get(p string) (*regexp.Regexp, error) {
	if e, ok := c.byPat[p]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*reEntry).re, nil
	}
	r, err := regexp.Compile(p)
	if err != nil {
		return nil, err
	}
	c.byPat[p] = c.order.PushFront(&reEntry{pat: p, re: r})
	if c.order.Len() > reCacheSize {
		old := c.order.Remove(c.order.Back()).(*reEntry)
		delete(c.byPat, old.pat)
	}
	return r, nil
}
