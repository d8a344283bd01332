package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The probe suite: hostile-tenant scripts, each run under Sandbox in
// process and isolated in a child, each expected to end with a clean
// error within its limits while the host goes on. The Lua probes live in
// testdata/probes; a probe's header says what it expects:
//
//	-- limits: memory=64M time=2s output=4K   (default: memory=128M time=10s)
//	-- expect: ok | any | limit.memory|limit.time | error~REGEXP
type hostileProbe struct {
	name   string
	src    string
	limits map[string]string
	expect string
}

func loadProbes(t *testing.T) []hostileProbe {
	t.Helper()
	files, err := filepath.Glob("testdata/probes/*.lua")
	if err != nil || len(files) == 0 {
		t.Fatalf("no probes: %v", err)
	}
	var ps []hostileProbe
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p := hostileProbe{name: strings.TrimSuffix(filepath.Base(f), ".lua"), src: string(b), limits: map[string]string{}}
		for _, line := range strings.Split(p.src, "\n") {
			if v, ok := strings.CutPrefix(line, "-- limits: "); ok {
				for _, kv := range strings.Fields(v) {
					k, v, _ := strings.Cut(kv, "=")
					p.limits[k] = v
				}
			}
			if v, ok := strings.CutPrefix(line, "-- expect: "); ok {
				p.expect = strings.TrimSpace(v)
			}
		}
		if p.expect == "" {
			t.Fatalf("%s: no expect line", f)
		}
		ps = append(ps, p)
	}
	return append(ps, generatedProbes()...)
}

// generatedProbes are sources too big to keep as files: each must fail
// to compile, quickly, with a line number.
func generatedProbes() []hostileProbe {
	nest := func(open, close string, n int) string {
		return "local x = " + strings.Repeat(open, n) + "1" + strings.Repeat(close, n)
	}
	var chain strings.Builder
	chain.WriteString("local s = 'a'")
	for range 100_000 {
		chain.WriteString(" .. 'a'")
	}
	compile := "error~line|nest|deep|too|limit"
	return []hostileProbe{
		{name: "gen_nested_tables", src: "local x = " + strings.Repeat("{", 1_000_000) + strings.Repeat("}", 1_000_000), expect: compile},
		{name: "gen_nested_parens", src: nest("(", ")", 200_000), expect: compile},
		{name: "gen_unary_chain", src: "local x = " + strings.Repeat("- ", 200_000) + "1", expect: compile},
		{name: "gen_not_chain", src: "local x = " + strings.Repeat("not ", 200_000) + "true", expect: compile},
		{name: "gen_concat_chain", src: chain.String(), expect: compile},
		{name: "gen_nested_functions", src: strings.Repeat("local function f() ", 100_000) + strings.Repeat("end ", 100_000), expect: compile},
	}
}

func parseSize(t *testing.T, s string) int64 {
	t.Helper()
	if s == "-1" {
		return -1
	}
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("size %q: %v", s, err)
	}
	return n * mult
}

func (p hostileProbe) options(t *testing.T, isolate bool) Options {
	opts := Options{Sandbox: true, Isolate: isolate, MaxMemory: 128 << 20, WallTime: 10 * time.Second}
	for k, v := range p.limits {
		switch k {
		case "memory":
			opts.MaxMemory = parseSize(t, v)
		case "output":
			opts.MaxOutput = parseSize(t, v)
		case "time":
			d, err := time.ParseDuration(v)
			if err != nil {
				t.Fatal(err)
			}
			opts.WallTime = d
		default:
			t.Fatalf("%s: unknown limit %q", p.name, k)
		}
	}
	return opts
}

// check reports how err differs from what the hostileProbe expects.
func (p hostileProbe) check(err error) string {
	if p.expect == "any" {
		var se *ScriptError
		if err != nil && !errors.As(err, &se) {
			return fmt.Sprintf("error of type %T, want a *ScriptError: %v", err, err)
		}
		if se != nil && se.Kind == "internal" {
			return "internal error (a Go panic): " + se.Message
		}
		return ""
	}
	if p.expect == "ok" {
		if err != nil {
			return fmt.Sprintf("failed: %v", err)
		}
		return ""
	}
	if err == nil {
		return "ran to the end, want " + p.expect
	}
	var se *ScriptError
	if !errors.As(err, &se) {
		return fmt.Sprintf("error of type %T, want a *ScriptError: %v", err, err)
	}
	if se.Kind == "internal" {
		return "internal error (a Go panic): " + se.Message
	}
	kinds, re, hasRE := strings.Cut(p.expect, "error~")
	for _, k := range strings.Split(kinds, "|") {
		if k != "" && se.Kind == k {
			return ""
		}
	}
	if hasRE && regexp.MustCompile("(?i)"+re).MatchString(se.Error()) {
		return ""
	}
	return fmt.Sprintf("kind %q, message %q; want %s", se.Kind, se.Error(), p.expect)
}

// heapSampler records the highest live heap it sees until stopped.
func heapSampler() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var ms goruntime.MemStats
		for {
			goruntime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() uint64 { close(done); <-finished; return peak.Load() }
}

func TestProbes(t *testing.T) {
	probes := loadProbes(t)
	for _, mode := range []struct {
		name    string
		isolate bool
	}{{"in-process", false}, {"isolated", true}} {
		t.Run(mode.name, func(t *testing.T) {
			for _, p := range probes {
				t.Run(p.name, func(t *testing.T) {
					opts := p.options(t, mode.isolate)
					var out bytes.Buffer
					opts.Stdout, opts.Stderr = &out, io.Discard
					goruntime.GC()
					var before goruntime.MemStats
					goruntime.ReadMemStats(&before)
					stop := heapSampler()
					start := time.Now()
					_, err := New(opts).RunString(context.Background(), p.name+".lua", p.src)
					took := time.Since(start)
					peak := stop()
					if msg := p.check(err); msg != "" {
						t.Errorf("%s", msg)
					}
					if took > opts.WallTime+5*time.Second {
						t.Errorf("took %v with a time limit of %v", took, opts.WallTime)
					}
					// The host's heap: in process, the budget bounds what is
					// live, and the heap (garbage included) grows to twice the
					// live heap before a GC (GOGC=100); flat when the run is a
					// child.
					limit := 2 * (before.HeapAlloc + uint64(opts.MaxMemory))
					if mode.isolate {
						limit = before.HeapAlloc + 32<<20
					}
					bounded := mode.isolate || opts.MaxMemory > 0
					if bounded && peak > limit {
						t.Errorf("host heap peaked at %d MiB (from %d MiB), limit %d MiB", peak>>20, before.HeapAlloc>>20, limit>>20)
					}
					goruntime.GC()
					var after goruntime.MemStats
					goruntime.ReadMemStats(&after)
					if after.HeapAlloc > before.HeapAlloc+32<<20 {
						t.Errorf("host heap kept %d MiB after the run (from %d MiB)", after.HeapAlloc>>20, before.HeapAlloc>>20)
					}
				})
			}
		})
	}
}

// Tenants: two runs of one sandboxed host share no state, and a run
// that fails leaves no lock behind.
func TestProbeTenantsShareNothing(t *testing.T) {
	for _, isolate := range []bool{false, true} {
		var out bytes.Buffer
		rt := New(Options{Sandbox: true, Isolate: isolate, Stdout: &out})
		run := func(src string) error {
			_, err := rt.RunString(context.Background(), "tenant.lua", src)
			return err
		}
		if err := run(`
local state = require("state")
local s = state.open("secrets")
s:set("token", "tenant-a")
s:save()
state.lock("job")
error("tenant A fails holding its lock")
`); err == nil {
			t.Fatalf("isolate=%v: tenant A's run did not fail", isolate)
		}
		if err := run(`
local state = require("state")
print(state.open("secrets"):get("token"))
local unlock = assert(state.lock("job"))
unlock()
`); err != nil {
			t.Fatalf("isolate=%v: tenant B: %v", isolate, err)
		}
		if strings.Contains(out.String(), "tenant-a") {
			t.Errorf("isolate=%v: tenant B read tenant A's state: %q", isolate, out.String())
		}
	}
}
