package bindings

import (
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/protocol/imap"
)

const idlerType = "imap.Idler"

// imapIdle is M:idle([duration [, callback]]): an Idler object, or with a
// callback, calls it with (typ, data) for each response until the
// duration ends or it returns true, then sends DONE.
func imapIdle(L *lua.LState, m *imapConn) int {
	var d time.Duration
	if n, ok := L.Get(2).(lua.LNumber); ok && float64(n) < 1e12 {
		d = time.Duration(float64(n) * float64(time.Second))
	}
	idler, err := m.c.Idle(ctxOf(L), d)
	if err != nil {
		Raise(L, err)
	}
	if fn, ok := L.Get(3).(*lua.LFunction); ok {
		for {
			r, err := idler.Next(ctxOf(L))
			if err != nil {
				Raise(L, err)
			}
			if r == nil {
				break
			}
			L.Push(fn)
			pushIdle(L, r)
			L.Call(2, 1)
			stop := lua.LVAsBool(L.Get(-1))
			L.Pop(1)
			if stop {
				break
			}
		}
		if err := idler.Done(ctxOf(L)); err != nil {
			Raise(L, err)
		}
		return 0
	}
	ud := L.NewUserData()
	ud.Value = idler
	mt := L.GetTypeMetatable(idlerType)
	if mt == lua.LNil {
		t := L.NewTypeMetatable(idlerType)
		t.RawSetString("__index", L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
			"iter": idlerIter, "burst": idlerBurst, "done": idlerDone,
		}))
		mt = t
	}
	L.SetMetatable(ud, mt)
	L.Push(ud)
	return 1
}

func checkIdler(L *lua.LState) *imap.Idler {
	i, ok := L.CheckUserData(1).Value.(*imap.Idler)
	if !ok {
		L.ArgError(1, "imap.Idler expected")
	}
	return i
}

// pushIdle pushes imaplib's (typ, data) for one response: data is the
// list of the response's items.
func pushIdle(L *lua.LState, r *imap.Response) {
	L.Push(lua.LString(r.Type))
	L.Push(dataTable(L, r.Data()))
}

func idlerIter(L *lua.LState) int {
	i := checkIdler(L)
	L.Push(L.NewFunction(func(L *lua.LState) int {
		r, err := i.Next(ctxOf(L))
		if err != nil {
			Raise(L, err)
		}
		if r == nil {
			L.Push(lua.LNil)
			return 1
		}
		pushIdle(L, r)
		return 2
	}))
	return 1
}

func idlerBurst(L *lua.LState) int {
	i := checkIdler(L)
	interval := 0.1
	if n, ok := L.Get(2).(lua.LNumber); ok {
		interval = float64(n)
	}
	rs, err := i.Burst(ctxOf(L), time.Duration(interval*float64(time.Second)))
	if err != nil {
		Raise(L, err)
	}
	t := L.CreateTable(len(rs), 0)
	for _, r := range rs {
		pair := L.CreateTable(2, 0)
		pair.Append(lua.LString(r.Type))
		pair.Append(dataTable(L, r.Data()))
		t.Append(pair)
	}
	L.Push(t)
	return 1
}

func idlerDone(L *lua.LState) int {
	if err := checkIdler(L).Done(ctxOf(L)); err != nil {
		Raise(L, err)
	}
	return 0
}
