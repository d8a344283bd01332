package stdlib

import (
	"encoding/hex"
)

// Namespace is store seen by one tenant: every name is prefixed with
// the tenant's (hex-encoded, so no two tenants' names meet even after
// FileStore's character mapping), and locks are the tenant's own.
func Namespace(store Store, tenant string) Store {
	return namespaced{s: store, prefix: "tenant-" + hex.EncodeToString([]byte(tenant)) + "-"}
}

type namespaced struct {
	s      Store
	prefix string
}

func (n namespaced) Load(name string) ([]byte, error)    { return n.s.Load(n.prefix + name) }
func (n namespaced) Save(name string, data []byte) error { return n.s.Save(n.prefix+name, data) }
func (n namespaced) Lock(name string) (func(), error)    { return n.s.Lock(n.prefix + name) }
