package runtime

import (
	"io"
	"sort"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/bindings"
)

// tracebackKey is where the registry keeps debug.traceback for the
// runtime's message handler: scripts reach the registry only through
// the debug library, which the sandbox withholds.
const tracebackKey = "mailscript.traceback"

// keepTraceback stores debug.traceback (from the debug library, open
// at this point) privately for [traceback].
func keepTraceback(L *lua.LState) {
	reg := L.Get(lua.RegistryIndex).(*lua.LTable)
	reg.RawSetString(tracebackKey, L.GetField(L.GetGlobal("debug"), "traceback"))
}

// withheld is a stand-in for a library the sandbox does not open: any
// use of it raises "io is not available in the sandbox".
func withheld(L *lua.LState, name string) *lua.LTable {
	t := L.NewTable()
	mt := L.NewTable()
	refuse := L.NewFunction(func(L *lua.LState) int {
		key := ""
		if s, ok := L.Get(2).(lua.LString); ok {
			key = "." + string(s)
		}
		L.RaiseError("%s%s: %s is not available in the sandbox", name, key, name)
		return 0
	})
	mt.RawSetString("__index", refuse)
	mt.RawSetString("__newindex", refuse)
	mt.RawSetString("__metatable", lua.LFalse)
	L.SetMetatable(t, mt)
	return t
}

// refuseMissing makes reading a field t lacks an error naming it
// (os.execute is not available in the sandbox) instead of nil.
func refuseMissing(L *lua.LState, t *lua.LTable, name string) {
	mt := L.NewTable()
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("%s.%s is not available in the sandbox", name, lua.LVAsString(L.Get(2)))
		return 0
	}))
	mt.RawSetString("__metatable", lua.LFalse)
	L.SetMetatable(t, mt)
}

// refusedFunc stands for a base function the sandbox withholds.
func refusedFunc(L *lua.LState, name string) *lua.LFunction {
	return L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("%s is not available in the sandbox", name)
		return 0
	})
}

// sandboxRequire is require for the sandbox: a module already loaded
// (package.loaded), else one preloaded by the runtime or host; never a
// file, whatever package.path, package.loaders or package.preload say.
// preload is the table the runtime filled, kept privately.
func sandboxRequire(L *lua.LState, loaded, preload *lua.LTable) *lua.LFunction {
	loading := L.NewUserData() // marks a module being loaded (a require loop)
	return L.NewFunction(func(L *lua.LState) int {
		name := L.CheckString(1)
		switch v := loaded.RawGetString(name); v {
		case loading:
			L.RaiseError("require %q: loop while loading it", name)
		case lua.LNil, lua.LFalse:
		default:
			L.Push(v)
			return 1
		}
		fn, ok := preload.RawGetString(name).(*lua.LFunction)
		if !ok {
			var names []string
			preload.ForEach(func(k, _ lua.LValue) { names = append(names, lua.LVAsString(k)) })
			sort.Strings(names)
			L.RaiseError("module %q is not available in the sandbox (it loads only these modules: %s)", name, strings.Join(names, ", "))
		}
		loaded.RawSetString(name, loading)
		L.Push(fn)
		L.Push(lua.LString(name))
		if err := L.PCall(1, 1, nil); err != nil {
			loaded.RawSetString(name, lua.LNil)
			L.Error(errorValue(err), 0)
		}
		v := L.Get(-1)
		L.Pop(1)
		if v == lua.LNil {
			v = lua.LTrue
		}
		if cur := loaded.RawGetString(name); cur != loading && cur != lua.LNil {
			v = cur // the module set package.loaded[name] itself
		}
		loaded.RawSetString(name, v)
		L.Push(v)
		return 1
	})
}

// errorValue is the Lua value a PCall error carries.
func errorValue(err error) lua.LValue {
	if ae, ok := err.(*lua.ApiError); ok {
		return ae.Object
	}
	return lua.LString(err.Error())
}

// routeStdio sends io.write, io.stdout:write and io.stderr:write of a
// trusted run to the run's writers (Options.Stdout and Stderr, under
// the output limit); other files are left alone.
func routeStdio(L *lua.LState, env *bindings.Env) {
	iot, ok := L.GetGlobal("io").(*lua.LTable)
	if !ok {
		return
	}
	stdout, stderr := iot.RawGetString("stdout"), iot.RawGetString("stderr")
	writerOf := func(f lua.LValue) io.Writer {
		switch f {
		case stdout:
			return env.Stdout
		case stderr:
			return env.Stderr
		}
		return nil
	}
	write := func(L *lua.LState, w io.Writer, from int) int {
		for i := from; i <= L.GetTop(); i++ {
			L.CheckTypes(i, lua.LTNumber, lua.LTString)
			if _, err := io.WriteString(w, lua.LVAsString(L.Get(i))); err != nil {
				bindings.RaiseLimit(L, env, err)
			}
		}
		L.Push(lua.LTrue)
		return 1
	}
	output, origWrite := iot.RawGetString("output"), iot.RawGetString("write")
	iot.RawSetString("write", L.NewFunction(func(L *lua.LState) int {
		L.Push(output)
		L.Call(0, 1)
		cur := L.Get(-1)
		L.Pop(1)
		if w := writerOf(cur); w != nil {
			return write(L, w, 1)
		}
		top := L.GetTop()
		L.Insert(origWrite, 1)
		L.Call(top, lua.MultRet)
		return L.GetTop()
	}))
	if mt, ok := L.GetTypeMetatable("FILE*").(*lua.LTable); ok {
		if methods, ok := mt.RawGetString("__index").(*lua.LTable); ok {
			origMethod := methods.RawGetString("write")
			methods.RawSetString("write", L.NewFunction(func(L *lua.LState) int {
				if w := writerOf(L.Get(1)); w != nil {
					return write(L, w, 2)
				}
				top := L.GetTop()
				L.Insert(origMethod, 1)
				L.Call(top, lua.MultRet)
				return L.GetTop()
			}))
		}
	}
}
