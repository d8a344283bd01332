package runtime

import (
	"context"
	"net"
	"strings"
)

// HostError is a dial to a host the allow-list ([Options.AllowHosts])
// does not name; its message says how to allow it.
type HostError struct {
	Addr string // as dialled: net.JoinHostPort(host, port)
}

func (e *HostError) Error() string {
	return e.Addr + " is not an allowed host: add --allow-host " + e.Addr + " (runtime.Options.AllowHosts)"
}

// allowed reports whether addr ("host:port", "[v6]:port") matches an
// entry of allow: "HOST" (any port) or "HOST:PORT". Names compare
// without case and are never resolved: a name allows that name only.
func allowed(allow []string, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return &HostError{Addr: addr}
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, a := range allow {
		h, p, err := net.SplitHostPort(a)
		if err != nil {
			h, p = a, ""
		}
		h = strings.ToLower(strings.TrimSuffix(strings.Trim(h, "[]"), "."))
		if h == host && (p == "" || p == port) {
			return nil
		}
	}
	return &HostError{Addr: net.JoinHostPort(host, port)}
}

// dialer is the dial function of a run: under Sandbox it refuses hosts
// AllowHosts does not name before any name is resolved, then dials with
// Options.Dial or a net.Dialer. In-process runs and the broker of
// isolated runs share it. The caller holds rt.mu.
func (rt *Runtime) dialer() func(ctx context.Context, network, addr string) (net.Conn, error) {
	base, allow := rt.opts.Dial, rt.opts.AllowHosts
	if !rt.opts.Sandbox {
		return base
	}
	if base == nil {
		base = (&net.Dialer{}).DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if err := allowed(allow, addr); err != nil {
			return nil, err
		}
		return base(ctx, network, addr)
	}
}
