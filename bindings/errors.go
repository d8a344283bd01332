package bindings

import (
	"errors"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/oauth"
	"github.com/mailscript/mailscript/protocol/imap"
	"github.com/mailscript/mailscript/protocol/pop3"
)

// Error objects are tables {kind=, message=, command=, code=, cause=}
// raised with error(obj), so pcall returns them; tostring gives
// "imap.abort: message". Classes (imap.error, imap.abort, imap.readonly,
// pop3.error_proto) answer :is(obj) with imaplib's hierarchy.

var kindRank = map[string]int{"error": 0, "abort": 1, "readonly": 2, "error_proto": 0}

func errorMeta(L *lua.LState, module string) *lua.LTable {
	name := module + ".Error"
	mt := L.NewTypeMetatable(name)
	if mt.RawGetString("__tostring") == lua.LNil {
		mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
			t := L.CheckTable(1)
			L.Push(lua.LString(module + "." + lua.LVAsString(t.RawGetString("kind")) + ": " + lua.LVAsString(t.RawGetString("message"))))
			return 1
		}))
		mt.RawSetString("__name", lua.LString(name))
	}
	return mt
}

func errorObject(L *lua.LState, module, kind, message, command, code, cause string) *lua.LTable {
	t := L.NewTable()
	t.RawSetString("kind", lua.LString(kind))
	t.RawSetString("message", lua.LString(message))
	for k, v := range map[string]string{"command": command, "code": code, "cause": cause} {
		if v != "" {
			t.RawSetString(k, lua.LString(v))
		}
	}
	L.SetMetatable(t, errorMeta(L, module))
	return t
}

// Raise raises a Go error from the clients as a Lua error object.
func Raise(L *lua.LState, err error) {
	var ie *imap.Error
	var pe *pop3.Error
	var ae *oauth.AuthError
	switch {
	case errors.As(err, &ae) && errors.As(err, &ie): // the server's refusal with its decoded payload
		L.Error(errorObject(L, "imap", ie.Kind.String(), ae.Error(), ie.Command, ie.Code, string(ie.Cause)), 0)
	case errors.As(err, &ae) && errors.As(err, &pe):
		L.Error(errorObject(L, "pop3", "error_proto", ae.Error(), pe.Command, pe.Code, pe.Cause), 0)
	case errors.As(err, &ie):
		L.Error(errorObject(L, "imap", ie.Kind.String(), withTLSHint(ie.Text), ie.Command, ie.Code, string(ie.Cause)), 0)
	case errors.As(err, &pe):
		L.Error(errorObject(L, "pop3", "error_proto", withTLSHint(pe.Text), pe.Command, pe.Code, pe.Cause), 0)
	default:
		L.Error(errorObject(L, "imap", "error", err.Error(), "", "", ""), 0)
	}
}

func raiseIMAP(L *lua.LState, kind, msg, command string) {
	L.Error(errorObject(L, "imap", kind, msg, command, "", ""), 0)
}

// class makes the table behind imap.error etc.
func class(L *lua.LState, module, kind string) *lua.LTable {
	c := L.NewTable()
	c.RawSetString("name", lua.LString(module+"."+kind))
	c.RawSetString("is", L.NewFunction(func(L *lua.LState) int {
		obj, ok := L.Get(2).(*lua.LTable)
		if !ok || L.GetMetatable(obj) != errorMeta(L, module) {
			L.Push(lua.LFalse)
			return 1
		}
		got, ok := kindRank[lua.LVAsString(obj.RawGetString("kind"))]
		L.Push(lua.LBool(ok && got >= kindRank[kind]))
		return 1
	}))
	mt := L.NewTable()
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString("<class " + module + "." + kind + ">"))
		return 1
	}))
	L.SetMetatable(c, mt)
	return c
}
