package stdlib

import lua "github.com/yuin/gopher-lua"

// newMessages makes a watch handler's `new` (watch.md): an array of
// message tables, so ipairs and # work, that also answers the message
// set methods (new:flag, new:move, ...) over exactly these UIDs.
func newMessages(L *lua.LState, m *mailbox, uids []uint32, msgs *lua.LTable) *lua.LTable {
	pushSet(L, m, uids)
	set := L.Get(-1)
	L.Pop(1)
	methods, _ := L.GetField(L.GetTypeMetatable(setType), "__index").(*lua.LTable)
	mt := L.NewTable()
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		fn, ok := methods.RawGet(L.Get(2)).(*lua.LFunction)
		if !ok {
			return 0
		}
		L.Push(L.NewFunction(func(L *lua.LState) int {
			// the set in place of the table as self
			args := []lua.LValue{set}
			for i := 2; i <= L.GetTop(); i++ {
				args = append(args, L.Get(i))
			}
			top := L.GetTop()
			L.Push(fn)
			for _, a := range args {
				L.Push(a)
			}
			L.Call(len(args), lua.MultRet)
			return L.GetTop() - top
		}))
		return 1
	}))
	L.SetMetatable(msgs, mt)
	return msgs
}
