package runtime

import (
	"errors"
	"runtime"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// goPanicking reports whether a message handler runs for a Go panic (a
// bug of a Go function under the script) rather than a Lua error.
// gopher-lua hands the handler a Go panic's message as a plain string,
// dropping its type; but the handler runs while the panic unwinds, so
// the Go stack still shows who panicked: Lua errors are panics gopher-lua
// raises itself, anything else is a Go panic.
func goPanicking() bool {
	var pcs [64]uintptr
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs[:])])
	for {
		f, more := frames.Next()
		if f.Function == "runtime.gopanic" {
			next, _ := frames.Next()
			return !strings.HasPrefix(next.Function, "github.com/yuin/gopher-lua.")
		}
		if !more {
			return false
		}
	}
}

// panicError is why a run a Go panic stopped ended: a script's pcall
// cannot go on past a host's bug.
type panicError struct{ msg string }

func (e *panicError) Error() string { return e.msg }

// stopPanic ends the run for a Go panic with message msg.
func stopPanic(L *lua.LState, msg string) {
	stopRun(L.Context(), &panicError{msg})
	L.RaiseError("%s", msg)
}

// guardPCalls replaces pcall and xpcall with ones that catch Lua errors
// as Lua's do, and let a Go panic end the run.
func guardPCalls(L *lua.LState) {
	L.SetGlobal("pcall", L.NewFunction(guardedPCall))
	L.SetGlobal("xpcall", L.NewFunction(guardedXPCall))
}

func guardedPCall(L *lua.LState) int {
	L.CheckAny(1)
	if v := L.Get(1); v.Type() != lua.LTFunction && L.GetMetaField(v, "__call").Type() != lua.LTFunction {
		L.Push(lua.LFalse)
		L.Push(lua.LString("attempt to call a " + v.Type().String() + " value"))
		return 2
	}
	if err := L.PCall(L.GetTop()-1, lua.MultRet, nil); err != nil {
		return pcallFailed(L, err)
	}
	L.Insert(lua.LTrue, 1)
	return L.GetTop()
}

func guardedXPCall(L *lua.LState) int {
	fn, handler := L.CheckFunction(1), L.CheckFunction(2)
	guard := L.NewFunction(func(L *lua.LState) int {
		if goPanicking() {
			stopPanic(L, L.Get(1).String())
		}
		L.Push(handler)
		L.Push(L.Get(1))
		L.Call(1, 1)
		return 1
	})
	top := L.GetTop()
	L.Push(fn)
	if err := L.PCall(0, lua.MultRet, guard); err != nil {
		return pcallFailed(L, err)
	}
	L.Insert(lua.LTrue, top+1)
	return L.GetTop() - top
}

// pcallFailed returns false and err's value, as Lua's pcall does, or ends
// the run if err is a Go panic.
func pcallFailed(L *lua.LState, err error) int {
	var ae *lua.ApiError
	if !errors.As(err, &ae) {
		L.Push(lua.LFalse)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	if ae.Type == lua.ApiErrorPanic {
		stopPanic(L, ae.Object.String())
	}
	L.Push(lua.LFalse)
	L.Push(ae.Object)
	return 2
}
