package stdlib

import (
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
)

// WatchMetrics counts what a watch service did, for /metrics and
// /healthz (watch.md's names). The zero value is ready.
type WatchMetrics struct {
	mu                       sync.Mutex
	handled, errors, reconns uint64
	skipped                  uint64
	connected                map[[2]string]bool // account, mailbox
	downSince                map[[2]string]time.Time
	grace                    map[[2]string]time.Duration // the watcher's backoff_max
	everUp                   map[[2]string]bool          // a first connect is no reconnect
	buckets                  []uint64                    // counts per latencyBounds, then +Inf
	latencySum               float64
	latencyCount             uint64
	leasing                  bool // mailboxes come and go with their leases
}

var latencyBounds = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

func (m *WatchMetrics) setConnected(account, mailbox string, up bool, grace time.Duration) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.connected == nil {
		m.connected = map[[2]string]bool{}
		m.downSince = map[[2]string]time.Time{}
		m.grace = map[[2]string]time.Duration{}
		m.everUp = map[[2]string]bool{}
	}
	k := [2]string{account, mailbox}
	m.grace[k] = grace
	if !up && (m.connected[k] || m.downSince[k].IsZero()) {
		m.downSince[k] = time.Now()
	}
	if up && !m.connected[k] && m.everUp[k] {
		m.reconns++
	}
	if up {
		m.everUp[k] = true
	}
	m.connected[k] = up
}

// forget drops a mailbox whose lease went to another instance: it is
// that instance's to report.
func (m *WatchMetrics) forget(account, mailbox string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{account, mailbox}
	delete(m.connected, k)
	delete(m.downSince, k)
	delete(m.grace, k)
}

// setLeasing says that watchers hold leases: an instance may hold none
// and be healthy.
func (m *WatchMetrics) setLeasing() {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.leasing = true
	m.mu.Unlock()
}

func (m *WatchMetrics) handledN(n int, latency time.Duration) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.handled += uint64(n)
	if m.buckets == nil {
		m.buckets = make([]uint64, len(latencyBounds)+1)
	}
	s := latency.Seconds()
	i := sort.SearchFloat64s(latencyBounds, s)
	m.buckets[i]++
	m.latencySum += s
	m.latencyCount++
}

func (m *WatchMetrics) skippedOne() {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.skipped++
	m.mu.Unlock()
}

func (m *WatchMetrics) handlerError() {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.errors++
	m.mu.Unlock()
}

// Healthy says whether every watcher is connected or within its backoff:
// down for less than its backoff_max (a reconnect should have come by
// then). With no watcher yet it is false, unless watchers hold leases:
// an instance whose peers hold every lease is a healthy standby.
func (m *WatchMetrics) Healthy(now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.connected) == 0 {
		return m.leasing
	}
	for k, up := range m.connected {
		if !up && now.Sub(m.downSince[k]) >= m.grace[k] {
			return false
		}
	}
	return true
}

// WritePrometheus writes the metrics in the Prometheus text format.
func (m *WatchMetrics) WritePrometheus(w io.Writer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	counter := func(name, help string, v uint64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	counter("mailscript_messages_handled_total", "Messages handed to a handler call that finished.", m.handled)
	counter("mailscript_handler_errors_total", "Handler calls that failed.", m.errors)
	counter("mailscript_reconnects_total", "Watch connections re-established after a drop.", m.reconns)
	counter("mailscript_messages_skipped_total", "Messages left unhandled after max_failures failed handler calls.", m.skipped)
	fmt.Fprint(w, "# HELP mailscript_mailbox_connected 1 while the mailbox's watch connection is up.\n# TYPE mailscript_mailbox_connected gauge\n")
	keys := make([][2]string, 0, len(m.connected))
	for k := range m.connected {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i][0]+"\x00"+keys[i][1] < keys[j][0]+"\x00"+keys[j][1] })
	for _, k := range keys {
		v := 0
		if m.connected[k] {
			v = 1
		}
		fmt.Fprintf(w, "mailscript_mailbox_connected{account=%s,mailbox=%s} %d\n", promLabel(k[0]), promLabel(k[1]), v)
	}
	const h = "mailscript_handle_latency_seconds"
	fmt.Fprintf(w, "# HELP %s From new mail seen to its handler done.\n# TYPE %s histogram\n", h, h)
	var cum uint64
	for i, b := range latencyBounds {
		if m.buckets != nil {
			cum += m.buckets[i]
		}
		fmt.Fprintf(w, "%s_bucket{le=\"%g\"} %d\n", h, b, cum)
	}
	if m.buckets != nil {
		cum += m.buckets[len(latencyBounds)]
	}
	fmt.Fprintf(w, "%s_bucket{le=\"+Inf\"} %d\n%s_sum %g\n%s_count %d\n", h, cum, h, m.latencySum, h, m.latencyCount)
	writeRuntimeMetrics(w)
}

// writeRuntimeMetrics writes the Go runtime gauges under the names
// Prometheus's Go client uses, so a leak shows on the usual dashboards.
func writeRuntimeMetrics(w io.Writer) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	gauge := func(name, help string, v uint64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %d\n", name, help, name, name, v)
	}
	gauge("go_goroutines", "Number of goroutines that currently exist.", uint64(runtime.NumGoroutine()))
	gauge("go_memstats_heap_inuse_bytes", "Number of heap bytes that are in use.", ms.HeapInuse)
	gauge("go_memstats_sys_bytes", "Number of bytes obtained from system.", ms.Sys)
}

// promLabel quotes a label value: backslash, quote and newline escaped.
func promLabel(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}
