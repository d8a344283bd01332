package bindings

import (
	lua "github.com/yuin/gopher-lua"
)

const secretType = "account.Secret"

// Secret is a password or token a script can pass on but not read: made
// by account.secret or by the host ([NewSecret]), never a magic string.
// tostring shows only its label.
type Secret struct {
	Label string // shown by tostring: "env:IMAP_PASSWORD"
	// Value gives the secret for a connection to host as user. It is
	// asked again on every reconnect (a changed password is taken up),
	// possibly from several goroutines at once.
	Value func(host, user string) (string, error)
}

// NewSecret makes s a Lua value, for host modules that hand secrets to
// scripts.
func NewSecret(L *lua.LState, s *Secret) *lua.LUserData {
	mt := L.NewTypeMetatable(secretType)
	if mt.RawGetString("__tostring") == lua.LNil {
		mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
			label := "?"
			if s, ok := L.CheckUserData(1).Value.(*Secret); ok {
				label = s.Label
			}
			L.Push(lua.LString("<secret " + label + ">"))
			return 1
		}))
		mt.RawSetString("__metatable", lua.LString("secret"))
	}
	ud := L.NewUserData()
	ud.Value = s
	L.SetMetatable(ud, mt)
	return ud
}

// SecretValue reads v as a password: a string is itself, a [Secret] is
// resolved for host and user; ok is false for anything else.
func SecretValue(v lua.LValue, host, user string) (pw string, ok bool, err error) {
	switch x := v.(type) {
	case lua.LString:
		return string(x), true, nil
	case lua.LNumber:
		return x.String(), true, nil
	case *lua.LNilType:
		return "", true, nil
	case *lua.LUserData:
		if s, isSecret := x.Value.(*Secret); isSecret && s.Value != nil {
			pw, err := s.Value(host, user)
			return pw, true, err
		}
	}
	return "", false, nil
}

// secretArg reads argument n as a password (a string or a secret).
func secretArg(L *lua.LState, n int, host, user string) string {
	if L.Get(n) == lua.LNil { // an unset variable: never an empty password sent
		L.ArgError(n, "the password is nil (an unset variable?); give a string or an account.secret")
	}
	pw, ok, err := SecretValue(L.Get(n), host, user)
	if !ok {
		L.ArgError(n, "string or secret expected, got "+L.Get(n).Type().String())
	}
	if err != nil {
		raiseIMAP(L, "error", "secret: "+err.Error(), "")
	}
	return pw
}

// secretField reads t[k] as a password (a string or a secret).
func secretField(L *lua.LState, t *lua.LTable, k, host, user string) string {
	pw, ok, err := SecretValue(t.RawGetString(k), host, user)
	if !ok {
		L.ArgError(3, k+" must be a string or a secret")
	}
	if err != nil {
		raiseIMAP(L, "error", "secret: "+err.Error(), "")
	}
	return pw
}
