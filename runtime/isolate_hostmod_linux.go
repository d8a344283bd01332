//go:build linux

package runtime

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// hostModules runs an isolated run's host modules ([Runtime.Register])
// in the parent: one Lua state for the run, each loader called once, on
// the child's first require of it; the child calls their functions
// through the control socket. Only the broker's serve loop uses it.
type hostModules struct {
	ctx     context.Context
	loaders map[string]lua.LGFunction
	L       *lua.LState
	wraps   map[string]*lua.LFunction // see wrapper
	collect *lua.LFunction
	results []lua.LValue
	loaded  map[string]wireVal
	fns     map[string]*lua.LFunction // by module and path, see fnKey

	registryMax, callStackMax int // as a run's in process
}

// hostWhere is the position the wrapper's frame gives an error raised
// by a host function with L.RaiseError: the child puts the script's own
// position in its place, as in process.
const hostWhere = "\x01:1: "

func newHostModules(ctx context.Context, loaders map[string]lua.LGFunction, opts *Options) *hostModules {
	return &hostModules{ctx: ctx, loaders: loaders, loaded: map[string]wireVal{}, fns: map[string]*lua.LFunction{}, wraps: map[string]*lua.LFunction{},
		registryMax: opts.RegistryMax, callStackMax: opts.CallStackMax}
}

func fnKey(module string, path []string) string {
	return module + "\x00" + strings.Join(path, "\x00")
}

// funcName is how errors name a host module's function: "crm.lookup".
func funcName(module string, path []string) string {
	return strings.Join(append([]string{module}, path...), ".")
}

// state opens the host-side state on first use: no io, os or package,
// as loaders and host functions need only the values they make.
func (h *hostModules) state() (*lua.LState, error) {
	if h.L != nil {
		return h.L, nil
	}
	L := lua.NewState(lua.Options{SkipOpenLibs: true, RegistrySize: lua.RegistrySize, RegistryMaxSize: h.registryMax,
		RegistryGrowStep: 32 << 10, CallStackSize: h.callStackMax, MinimizeStackMemory: true})
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{{lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}, {lua.StringLibName, lua.OpenString}, {lua.MathLibName, lua.OpenMath}} {
		L.Push(L.NewFunction(lib.fn))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	h.collect = L.NewFunction(func(L *lua.LState) int {
		h.results = h.results[:0]
		for i := 1; i <= L.GetTop(); i++ {
			h.results = append(h.results, L.Get(i))
		}
		return 0
	})
	L.SetContext(h.ctx)
	h.L = L
	return L, nil
}

func (h *hostModules) close() {
	if h.L != nil {
		h.L.Close()
	}
}

var luaIdent = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// wrapper calls a function from a Lua frame (an error raised with
// L.RaiseError gets hostWhere as its position) under the name the
// script calls it by, for "bad argument #1 to lookup".
func (h *hostModules) wrapper(name string) (*lua.LFunction, error) {
	if !luaIdent.MatchString(name) || reservedName(name) {
		name = "f"
	}
	if w := h.wraps[name]; w != nil {
		return w, nil
	}
	chunk, err := h.L.Load(strings.NewReader("return function(collect, "+name+", ...) collect("+name+"(...)) end"), hostWhere[:1])
	if err != nil {
		return nil, err
	}
	h.L.Push(chunk)
	h.L.Call(0, 1)
	w := h.L.Get(-1).(*lua.LFunction)
	h.L.Pop(1)
	h.wraps[name] = w
	return w, nil
}

// reservedName is a Lua keyword, or the wrapper's other parameter.
func reservedName(s string) bool {
	switch s {
	case "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "if", "in",
		"local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while", "collect":
		return true
	}
	return false
}

// answer serves a "require" or a "call" of the child.
func (h *hostModules) answer(m *wireMsg) *wireMsg {
	r := &wireMsg{Op: "reply"}
	fail := func(format string, args ...any) *wireMsg {
		r.Where = true
		r.Err = fmt.Sprintf("host module %q: ", m.Name) + fmt.Sprintf(format, args...)
		return r
	}
	loader, ok := h.loaders[m.Name]
	if !ok {
		return fail("not registered")
	}
	L, err := h.state()
	if err != nil {
		return fail("%v", err)
	}
	if m.Op == "require" {
		if w, ok := h.loaded[m.Name]; ok {
			r.Vals = []wireVal{w}
			return r
		}
		if e := h.run(r, "loader", L.NewFunction(loader), []lua.LValue{lua.LString(m.Name)}); e != nil {
			return e
		}
		mod := lua.LValue(lua.LNil)
		if len(h.results) > 0 {
			mod = h.results[0]
		}
		enc := &luaEncoder{budget: newCrossBudget(), fn: func(path []string, f *lua.LFunction) {
			h.fns[fnKey(m.Name, path)] = f
		}}
		w, err := enc.encode(mod, "its module value", nil, 0)
		if err != nil {
			return fail("%v", err)
		}
		h.loaded[m.Name] = w
		r.Vals = []wireVal{w}
		return r
	}
	name := funcName(m.Name, m.Path)
	f := h.fns[fnKey(m.Name, m.Path)]
	if f == nil {
		return fail("it has no function %s", name)
	}
	args := make([]lua.LValue, len(m.Vals))
	dec := &luaDecoder{L: L, budget: newCrossBudget()} // the child's values: checked as they are built
	for i, w := range m.Vals {
		if args[i], err = dec.decode(w, 0); err != nil {
			return fail("argument %d of %s: %v", i+1, name, err)
		}
	}
	last := m.Name
	if len(m.Path) > 0 {
		last = m.Path[len(m.Path)-1]
	}
	if e := h.run(r, last, f, args); e != nil {
		return e
	}
	enc := &luaEncoder{budget: newCrossBudget()}
	for i, v := range h.results {
		w, err := enc.encode(v, fmt.Sprintf("result %d of %s", i+1, name), nil, 0)
		if err != nil {
			r.Vals = nil
			return fail("%v", err)
		}
		r.Vals = append(r.Vals, w)
	}
	return r
}

// run calls f(args...) in the host state, as name; the results are in h.results.
// It returns the reply of a Lua error or a Go panic, nil if none.
func (h *hostModules) run(r *wireMsg, name string, f *lua.LFunction, args []lua.LValue) (reply *wireMsg) {
	L := h.L
	h.results = h.results[:0]
	wrap, err := h.wrapper(name)
	if err != nil {
		r.Err, r.Where = err.Error(), true
		return r
	}
	top := L.GetTop()
	defer func() { // PCall recovers panics; this is for one it lets through
		if p := recover(); p != nil {
			L.SetTop(top)
			r.Err, r.Panic, r.Where = fmt.Sprint(p), true, false
			reply = r
		}
	}()
	L.Push(wrap)
	L.Push(h.collect)
	L.Push(f)
	for _, a := range args {
		L.Push(a)
	}
	err = L.PCall(2+len(args), 0, nil)
	L.SetTop(top)
	if err == nil {
		return nil
	}
	var ae *lua.ApiError
	if !errors.As(err, &ae) {
		r.Err, r.Where = err.Error(), true
		return r
	}
	if ae.Type == lua.ApiErrorPanic {
		r.Err, r.Panic, r.Where = ae.Object.String(), true, false
		return r
	}
	if s, ok := ae.Object.(lua.LString); ok {
		msg, where := strings.CutPrefix(string(s), hostWhere)
		r.Err, r.Where = msg, where
		return r
	}
	r.Err, r.Where = ae.Object.String(), false
	if w, err := (&luaEncoder{budget: newCrossBudget()}).encode(ae.Object, "the error", nil, 0); err == nil {
		r.Vals = []wireVal{w}
	}
	return r
}

// crossing is what of a Runtime's host modules and exposed values an
// isolated run takes along, or why some cannot go.
func (rt *Runtime) crossing() (loaders map[string]lua.LGFunction, names []string, values map[string]wireVal, refuse []string) {
	loaders = make(map[string]lua.LGFunction, len(rt.modules))
	for n, l := range rt.modules {
		loaders[n] = l
		names = append(names, n)
	}
	sort.Strings(names)
	values = make(map[string]wireVal, len(rt.values))
	for n, v := range rt.values {
		what := "exposed value " + strconv.Quote(n) + " (Runtime.Expose)"
		var w wireVal
		var err error
		if lv, ok := v.(lua.LValue); ok {
			w, err = (&luaEncoder{budget: newCrossBudget()}).encode(lv, what, nil, 0)
		} else {
			w, err = encodeGo(reflect.ValueOf(v), what, newCrossBudget(), 0)
		}
		if err != nil {
			refuse = append(refuse, err.Error())
			continue
		}
		values[n] = w
	}
	sort.Strings(refuse)
	return loaders, names, values, refuse
}

// proxyModules registers, in an isolated child's runtime, a loader for
// each host module that asks the parent for the module's value: its
// data copied, its functions stubs calling the parent's.
func (c *childConn) proxyModules(rt *Runtime, names []string) {
	for _, name := range names {
		rt.Register(name, func(L *lua.LState) int {
			r, err := c.call(&wireMsg{Op: "require", Name: name})
			if err != nil {
				c.raise(L, r)
			}
			if len(r.Vals) != 1 {
				L.RaiseError("host module %q: no value from the parent", name)
			}
			d := &luaDecoder{L: L, fn: func(path []string) lua.LValue { return L.NewFunction(c.stub(name, path)) }}
			v, err := d.decode(r.Vals[0], 0)
			if err != nil {
				L.RaiseError("host module %q: %v", name, err)
			}
			L.Push(v)
			return 1
		})
	}
}

// stub is a host module's function in the child: its arguments cross
// to the parent, which calls the function, and its results come back.
func (c *childConn) stub(module string, path []string) lua.LGFunction {
	name := funcName(module, path)
	path = append([]string{}, path...)
	return func(L *lua.LState) int {
		enc := &luaEncoder{budget: newCrossBudget()}
		args := make([]wireVal, L.GetTop())
		for i := range args {
			w, err := enc.encode(L.Get(i+1), fmt.Sprintf("argument %d of %s", i+1, name), nil, 0)
			if err != nil {
				L.RaiseError("host module %q: %v", module, err)
			}
			args[i] = w
		}
		r, err := c.call(&wireMsg{Op: "call", Name: module, Path: path, Vals: args})
		if err != nil {
			c.raise(L, r)
		}
		dec := &luaDecoder{L: L}
		for _, w := range r.Vals {
			v, err := dec.decode(w, 0)
			if err != nil {
				L.RaiseError("host module %q: result of %s: %v", module, name, err)
			}
			L.Push(v)
		}
		return len(r.Vals)
	}
}

// raise raises in the script the error of a host function the parent
// sent: as a Go panic would end the run in process, or as the Lua error
// it raised, at the script's position where it had one.
func (c *childConn) raise(L *lua.LState, r *wireMsg) {
	switch {
	case r.Panic:
		stopPanic(L, r.Err)
	case len(r.Vals) == 1:
		if v, err := (&luaDecoder{L: L}).decode(r.Vals[0], 0); err == nil {
			L.Error(v, 0)
		}
	case r.Where:
		L.RaiseError("%s", r.Err)
	}
	L.Error(lua.LString(r.Err), 0)
}

// exposeValues makes the exposed values copied from the parent globals
// of the child's runs.
func exposeValues(rt *Runtime, values map[string]wireVal) error {
	L := lua.NewState(lua.Options{SkipOpenLibs: true}) // only to make the tables
	defer L.Close()
	for name, w := range values {
		v, err := (&luaDecoder{L: L}).decode(w, 0)
		if err != nil {
			return fmt.Errorf("exposed value %q: %w", name, err)
		}
		rt.Expose(name, v)
	}
	return nil
}
