package stdlib

import (
	"strings"
	"testing"
	"time"
)

func TestWatchMetricsHealthAndText(t *testing.T) {
	m := &WatchMetrics{}
	if m.Healthy(time.Now()) {
		t.Fatal("healthy with no watcher")
	}
	m.setConnected("me@h", "INBOX", false, time.Minute)
	m.setConnected("me@h", `a"b`, true, time.Minute)
	if !m.Healthy(time.Now()) {
		t.Fatal("a watcher within its backoff counts as healthy")
	}
	if m.Healthy(time.Now().Add(2 * time.Minute)) {
		t.Fatal("a watcher down for longer than backoff_max counts as healthy")
	}
	m.setConnected("me@h", "INBOX", true, time.Minute)
	m.setConnected("me@h", "INBOX", false, time.Minute)
	m.setConnected("me@h", "INBOX", true, time.Minute)
	m.handledN(3, 30*time.Millisecond)
	m.handlerError()
	var b strings.Builder
	m.WritePrometheus(&b)
	for _, want := range []string{
		"# TYPE mailscript_messages_handled_total counter\nmailscript_messages_handled_total 3\n",
		"mailscript_handler_errors_total 1\n",
		"mailscript_reconnects_total 1\n",
		`mailscript_mailbox_connected{account="me@h",mailbox="INBOX"} 1` + "\n",
		`mailscript_mailbox_connected{account="me@h",mailbox="a\"b"} 1` + "\n",
		`mailscript_handle_latency_seconds_bucket{le="0.025"} 0` + "\n",
		`mailscript_handle_latency_seconds_bucket{le="0.05"} 1` + "\n",
		`mailscript_handle_latency_seconds_bucket{le="+Inf"} 1` + "\n",
		"mailscript_handle_latency_seconds_count 1\n",
		"# TYPE go_goroutines gauge\ngo_goroutines ",
		"# TYPE go_memstats_heap_inuse_bytes gauge\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Fatalf("lacks %q:\n%s", want, b.String())
		}
	}
}

// A mailbox whose lease went elsewhere leaves the gauges and the health
// check; an instance holding no lease is a healthy standby.
func TestWatchMetricsForgetHandedBackMailbox(t *testing.T) {
	m := &WatchMetrics{}
	m.setLeasing()
	if !m.Healthy(time.Now()) {
		t.Fatal("a leasing instance holding nothing counts as unhealthy")
	}
	m.setConnected("me@h", "INBOX", true, time.Minute)
	m.setConnected("me@h", "INBOX", false, time.Minute)
	m.forget("me@h", "INBOX")
	if !m.Healthy(time.Now().Add(time.Hour)) {
		t.Fatal("a handed-back mailbox keeps the instance unhealthy")
	}
	var b strings.Builder
	m.WritePrometheus(&b)
	if strings.Contains(b.String(), `mailbox="INBOX"`) {
		t.Fatalf("the handed-back mailbox is still reported:\n%s", b.String())
	}
}
