package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/yuin/gopher-lua/parse"

	"github.com/mailscript/mailscript/pgstore"
	"github.com/mailscript/mailscript/runtime"
	"github.com/mailscript/mailscript/stdlib"
)

// watchCmd is `mailscript watch FILE`: the script's watchers as a
// service. SIGTERM/SIGINT end it after the running handler (exit 0);
// SIGHUP runs the script again with new watchers, state kept.
func (c *cli) watchCmd(args []string) int {
	fs := c.flags("watch", "FILE", "Run FILE's watch.on/watch.rules watchers as a service.", nil)
	logFormat := fs.String("log-format", "text", "log format: text or json (one JSON object per line)")
	status := fs.String("status", "", "serve /healthz and /metrics on this address (e.g. 127.0.0.1:9110)")
	stateDir := fs.String("state", stdlib.DefaultStateDir(), "keep the last handled UIDs in this folder, or in PostgreSQL: a postgres:// DSN or env:NAME holding one (instances sharing it split the mailboxes)")
	leaseTTL := fs.Duration("lease-ttl", stdlib.DefaultLeaseTTL, "with PostgreSQL state: how long a mailbox's lease outlives a dead instance")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	var h slog.Handler
	switch *logFormat {
	case "json":
		h = slog.NewJSONHandler(c.stderr, nil)
	case "text":
		h = slog.NewTextHandler(c.stderr, nil)
	default:
		fmt.Fprintf(c.stderr, "mailscript watch: --log-format %q: want text or json\n", *logFormat)
		return 2
	}
	log := slog.New(h)
	var store stdlib.Store = stdlib.FileStore{Dir: *stateDir}
	if dsn, ok := postgresDSN(*stateDir); ok {
		if *leaseTTL <= 0 {
			fmt.Fprintln(c.stderr, "mailscript watch: --lease-ttl must be positive")
			return 2
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		pg, err := pgstore.Open(ctx, dsn, instanceName())
		cancel()
		if err != nil { // pgstore's errors never hold the password
			fmt.Fprintf(c.stderr, "mailscript watch: --state: %v\n", err)
			return 1
		}
		defer pg.Close()
		log.Info("state in PostgreSQL", "event", "state", "owner", pg.Owner(), "lease_ttl", leaseTTL.String())
		store = pg
	} else if strings.HasPrefix(*stateDir, "env:") {
		fmt.Fprintf(c.stderr, "mailscript watch: --state %s: not set, or not a postgres:// DSN\n", *stateDir)
		return 2
	}
	metrics := &stdlib.WatchMetrics{}
	if *status != "" {
		ln, err := net.Listen("tcp", *status)
		if err != nil {
			fmt.Fprintf(c.stderr, "mailscript watch: --status: %v\n", err)
			return 2
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
			if metrics.Healthy(time.Now()) {
				fmt.Fprintln(w, "ok")
				return
			}
			http.Error(w, "not every watcher is connected", http.StatusServiceUnavailable)
		})
		mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			metrics.WritePrometheus(w)
		})
		srv := &http.Server{Handler: mux}
		go srv.Serve(ln)
		defer srv.Close()
		log.Info("status endpoint", "event", "status", "addr", ln.Addr().String())
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	path := fs.Arg(0)
	for {
		stop := make(chan struct{})
		reload := false
		done := make(chan struct{})
		go func() {
			for {
				select {
				case s := <-sigs:
					log.Info("signal", "event", "signal", "signal", s.String())
					if s == syscall.SIGHUP {
						// a script that does not load keeps the running one
						if err := checkScript(path); err != nil {
							log.Error("reload failed; the running watchers go on", "event", "reload", "outcome", "error", "error", err.Error())
							continue
						}
					}
					reload = s == syscall.SIGHUP
					close(stop)
				case <-done:
				}
				return
			}
		}()
		rt := runtime.New(runtime.Options{Stdout: c.stderr, Stderr: c.stderr, Logger: log,
			Watch: &stdlib.WatchMode{Service: true, Stop: stop, Logger: log, Metrics: metrics, LeaseTTL: *leaseTTL}})
		rt.SetState(store)
		_, err := rt.RunFile(context.Background(), path)
		close(done)
		if err != nil {
			log.Error("script failed", "event", "exit", "outcome", "error", "error", err.Error())
			return 1
		}
		select {
		case <-stop:
		default: // the script registered no watchers, or they ended
			return 0
		}
		if !reload {
			log.Info("stopped", "event", "exit", "outcome", "ok")
			return 0
		}
		log.Info("reloading", "event", "reload", "script", path)
	}
}

var _ stdlib.Leaser = (*pgstore.Store)(nil)

// postgresDSN is --state's DSN when it names PostgreSQL: a postgres:// or
// postgresql:// URL, or env:NAME holding one.
func postgresDSN(state string) (string, bool) {
	if name, ok := strings.CutPrefix(state, "env:"); ok {
		state = os.Getenv(name)
	}
	if strings.HasPrefix(state, "postgres://") || strings.HasPrefix(state, "postgresql://") {
		return state, true
	}
	return "", false
}

// instanceName is this process's lease owner: host, pid and a random
// part, unique even when a pid is reused in a new container.
func instanceName() string {
	host, _ := os.Hostname()
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// checkScript reports whether the script at path reads and compiles.
func checkScript(path string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	_, err = parse.Parse(strings.NewReader(string(src)), path)
	return err
}
