package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

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
	stateDir := fs.String("state", stdlib.DefaultStateDir(), "keep the last handled UIDs in this folder")
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
			select {
			case s := <-sigs:
				reload = s == syscall.SIGHUP
				log.Info("signal", "event", "signal", "signal", s.String())
				close(stop)
			case <-done:
			}
		}()
		rt := runtime.New(runtime.Options{Stdout: c.stderr, Stderr: c.stderr, Logger: log,
			Watch: &stdlib.WatchMode{Service: true, Stop: stop, Logger: log, Metrics: metrics}})
		rt.SetState(stdlib.FileStore{Dir: *stateDir})
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
