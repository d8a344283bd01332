package runtime

import (
	"container/list"
	"context"
	"crypto/sha256"
	"strconv"
	"strings"
	"sync"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/internal/limit"
)

// Bounds of the compile cache: entries, and bytes of source behind them.
const (
	cacheEntries = 256
	cacheBytes   = 64 << 20
)

// protoCache is the compile cache: least recently used chunks go first.
type protoCache struct {
	mu    sync.Mutex
	order *list.List // of *cacheEntry, most recent first
	byKey map[[32]byte]*list.Element
	bytes int
}

type cacheEntry struct {
	key   [32]byte
	size  int
	proto *lua.FunctionProto
}

func newProtoCache() *protoCache {
	return &protoCache{order: list.New(), byKey: map[[32]byte]*list.Element{}}
}

func (c *protoCache) get(key [32]byte) *lua.FunctionProto {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[key]
	if !ok {
		return nil
	}
	c.order.MoveToFront(e)
	return e.Value.(*cacheEntry).proto
}

func (c *protoCache) put(key [32]byte, size int, p *lua.FunctionProto) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[key]; ok || size > cacheBytes {
		return
	}
	c.byKey[key] = c.order.PushFront(&cacheEntry{key, size, p})
	c.bytes += size
	for c.order.Len() > cacheEntries || c.bytes > cacheBytes {
		old := c.order.Remove(c.order.Back()).(*cacheEntry)
		delete(c.byKey, old.key)
		c.bytes -= old.size
	}
}

func (c *protoCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

func cacheKey(name, src string) [32]byte { return sha256.Sum256([]byte(name + "\x00" + src)) }

// compileIn compiles within ctx: a compile that outlasts the run's wall
// time ends the run (the compile itself, bounded by the caps of
// checkSource, finishes in the background).
func (rt *Runtime) compileIn(ctx context.Context, name, src string) (*lua.FunctionProto, error) {
	if p := rt.cache.get(cacheKey(name, src)); p != nil {
		return p, nil
	}
	type result struct {
		p   *lua.FunctionProto
		err error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() { done <- r }()
		defer recoverRun(name, &r.err)
		r.p, r.err = rt.Compile(name, src)
	}()
	select {
	case r := <-done:
		return r.p, r.err
	case <-ctx.Done():
		return nil, runError(ctx, name, context.Cause(ctx))
	}
}

// checkSource refuses a script gopher-lua cannot compile safely: larger
// than max bytes, or nested deeper than Lua's own 200 syntax levels
// (brackets, blocks, and chains of right-associative and unary
// operators, which its parser and compiler each turn into recursion).
// It reads tokens only, so it overcounts some chains a parser would
// split (a^b + c^d counts two levels); real scripts stay far below.
// Left-associative chains (a + b + c) are not counted: the size cap
// bounds them, and gopher-lua compiles a million terms in about a second.
func checkSource(name, src string, max int64) *ScriptError {
	if max > 0 && int64(len(src)) > max {
		le := &limit.Error{Limit: "script size", Max: limit.Bytes(max)}
		return &ScriptError{File: name, Kind: "limit." + le.Limit, Message: le.Error(), Err: le}
	}
	if line := tooDeep(src, maxNesting); line > 0 {
		le := &limit.Error{Limit: "nesting", Max: strconv.Itoa(maxNesting) + " levels"}
		return &ScriptError{File: name, Line: line, Kind: "limit." + le.Limit, Message: le.Error(), Err: le}
	}
	return nil
}

// tooDeep returns the line where src nests deeper than max, or 0.
func tooDeep(src string, max int) int {
	line := 1
	var saved []int // the outer levels' chains
	outer, chain := 0, 0
	operand := false // the last token ends an operand (so '-' is binary)
	push := func() {
		saved = append(saved, chain)
		outer += chain
		chain = 0
	}
	pop := func() {
		if n := len(saved); n > 0 {
			chain = saved[n-1]
			outer -= chain
			saved = saved[:n-1]
		}
	}
	for i := 0; i < len(src); {
		c := src[i]
		wasOperand := operand
		operand = false
		switch {
		case c == '\n':
			line++
			i++
			operand = wasOperand
			continue
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			i++
			operand = wasOperand
			continue
		case c == '-' && strings.HasPrefix(src[i:], "--"):
			i += 2
			if n := longBracket(src[i:]); n >= 0 {
				i, line = skipLong(src, i, n, line)
			} else {
				for i < len(src) && src[i] != '\n' {
					i++
				}
			}
			operand = wasOperand
			continue
		case c == '[' && longBracket(src[i:]) >= 0:
			i, line = skipLong(src, i, longBracket(src[i:]), line)
			operand = true
			continue
		case c == '"' || c == '\'':
			for i++; i < len(src) && src[i] != c; i++ {
				if src[i] == '\\' && i+1 < len(src) {
					i++
				}
				if src[i] == '\n' {
					line++
				}
			}
			i++
			operand = true
			continue
		case isDigit(c) || c == '.' && i+1 < len(src) && isDigit(src[i+1]):
			for i < len(src) && (isAlnum(src[i]) || src[i] == '.' ||
				(src[i] == '-' || src[i] == '+') && (src[i-1] == 'e' || src[i-1] == 'E')) {
				i++
			}
			operand = true
			continue
		case isAlnum(c):
			j := i
			for j < len(src) && isAlnum(src[j]) {
				j++
			}
			switch word := src[i:j]; word {
			case "function", "if", "do", "repeat":
				push()
			case "end", "until":
				pop()
				operand = word == "end"
			case "not":
				chain++
			case "and", "or": // lower than every chained operator: a new operand
				chain = 0
			case "nil", "true", "false":
				operand = true
			default:
				if isKeyword(word) {
					chain = 0
				} else {
					operand = true
				}
			}
			i = j
		case c == '(' || c == '[' || c == '{':
			push()
			i++
		case c == ')' || c == ']' || c == '}':
			pop()
			operand = true
			i++
		case c == ',' || c == ';' || c == '=' || c == '<' || c == '>' || c == '~':
			// a new expression, or comparisons (left-associative, below .. and ^)
			chain = 0
			i++
		case strings.HasPrefix(src[i:], "..."):
			operand = true
			i += 3
		case strings.HasPrefix(src[i:], ".."):
			chain++
			i += 2
		case c == '^' || c == '#' || c == '-' && !wasOperand:
			chain++
			i++
		default:
			i++
		}
		if outer+len(saved)+chain > max {
			return line
		}
	}
	return 0
}

// longBracket returns the level of a long bracket opening s ("[[" is 0,
// "[==[" is 2), or -1.
func longBracket(s string) int {
	if len(s) < 2 || s[0] != '[' {
		return -1
	}
	n := 1
	for n < len(s) && s[n] == '=' {
		n++
	}
	if n < len(s) && s[n] == '[' {
		return n - 1
	}
	return -1
}

// skipLong skips the long string or comment at src[i:] of the given level.
func skipLong(src string, i, level int, line int) (int, int) {
	close := "]" + strings.Repeat("=", level) + "]"
	j := strings.Index(src[i+level+2:], close)
	end := len(src)
	if j >= 0 {
		end = i + level + 2 + j + len(close)
	}
	return end, line + strings.Count(src[i:end], "\n")
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlnum(c byte) bool {
	return c == '_' || isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isKeyword(w string) bool {
	switch w {
	case "break", "else", "elseif", "for", "in", "local", "return", "then", "while":
		return true
	}
	return false
}
