package stdlib

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/bindings"
)

// Store keeps named state documents. Hosts may give their own (a
// database, say); the default keeps JSON files in a folder.
type Store interface {
	Load(name string) ([]byte, error) // nil, nil when there is none
	Save(name string, data []byte) error
	// Lock takes name's lock, or fails at once if another run holds it.
	Lock(name string) (unlock func(), err error)
}

// DefaultStateDir is $XDG_STATE_HOME/mailscript, else ~/.local/state/mailscript.
func DefaultStateDir() string {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "mailscript")
}

// FileStore keeps each document as DIR/NAME.json, written atomically
// (a temporary file renamed over it), locked with flock on NAME.lock.
type FileStore struct{ Dir string }

var safeName = regexp.MustCompile(`[^A-Za-z0-9._@+-]`)

func (f FileStore) path(name, ext string) string {
	return filepath.Join(f.Dir, safeName.ReplaceAllString(name, "_")+ext)
}

func (f FileStore) Load(name string) ([]byte, error) {
	b, err := os.ReadFile(f.path(name, ".json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

func (f FileStore) Save(name string, data []byte) error {
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(f.Dir, ".state-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), f.path(name, ".json"))
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

func (f FileStore) Lock(name string) (func(), error) {
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return nil, err
	}
	lf, err := os.OpenFile(f.path(name, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lf.Close()
		return nil, fmt.Errorf("state %q is locked by another run", name)
	}
	return func() { syscall.Flock(int(lf.Fd()), syscall.LOCK_UN); lf.Close() }, nil
}

// MemStore keeps state in memory: the sandbox's default.
type MemStore struct {
	mu    sync.Mutex
	docs  map[string][]byte
	locks map[string]bool
}

func (m *MemStore) Load(name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.docs[name], nil
}

func (m *MemStore) Save(name string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.docs == nil {
		m.docs = map[string][]byte{}
	}
	m.docs[name] = append([]byte(nil), data...)
	return nil
}

func (m *MemStore) Lock(name string) (func(), error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.locks == nil {
		m.locks = map[string]bool{}
	}
	if m.locks[name] {
		return nil, fmt.Errorf("state %q is locked by another run", name)
	}
	m.locks[name] = true
	return func() { m.mu.Lock(); delete(m.locks, name); m.mu.Unlock() }, nil
}

// openState is the state module: state.open(name) -> a document with
// get, set, delete, keys and save; state.lock(name) -> unlock function.
func openState(L *lua.LState, env *bindings.Env, store Store) int {
	mod := L.NewTable()
	L.SetFuncs(mod, map[string]lua.LGFunction{
		"open": func(L *lua.LState) int {
			name := L.CheckString(1)
			data := L.NewTable()
			raw, err := store.Load(name)
			if err != nil {
				L.RaiseError("state.open %s: %v", name, err)
			}
			if raw != nil {
				var v any
				if err := json.Unmarshal(raw, &v); err != nil {
					L.RaiseError("state.open %s: %v", name, err)
				}
				if t, ok := toLua(L, v).(*lua.LTable); ok {
					data = t
				}
			}
			doc := L.NewTable()
			doc.RawSetString("data", data)
			L.SetFuncs(doc, map[string]lua.LGFunction{
				"get": func(L *lua.LState) int { L.Push(data.RawGet(L.Get(2))); return 1 },
				"set": func(L *lua.LState) int { data.RawSet(L.Get(2), L.Get(3)); return 0 },
				"delete": func(L *lua.LState) int {
					data.RawSet(L.Get(2), lua.LNil)
					return 0
				},
				"save": func(L *lua.LState) int {
					v, err := toGo(data, 0, &jsonWalk{ctx: L.Context()})
					if err != nil {
						L.RaiseError("state %s: %v", name, err)
					}
					b, _ := json.MarshalIndent(v, "", "  ")
					if err := store.Save(name, b); err != nil {
						L.RaiseError("state %s: %v", name, err)
					}
					return 0
				},
			})
			L.Push(doc)
			return 1
		},
		"lock": func(L *lua.LState) int {
			unlock, err := store.Lock(L.CheckString(1))
			if err != nil {
				L.Push(lua.LNil)
				L.Push(lua.LString(err.Error()))
				return 2
			}
			// released when the run ends, however it ends, unless the
			// script releases it first
			once := sync.OnceFunc(unlock)
			forget := env.OnEnd(once)
			L.Push(L.NewFunction(func(L *lua.LState) int { forget(); once(); return 0 }))
			return 1
		},
	})
	L.Push(mod)
	return 1
}
