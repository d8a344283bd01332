package stdlib

import (
	"errors"
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/bindings"
	"github.com/mailscript/mailscript/sieve"
)

// The sieve module: sieve.compile(text [, opts]), script:test(raw [, opts])
// (evaluation with no server) and script:run(mailbox [, set [, opts]]) over
// IMAP (sieverun.go).

const sieveScriptType = "sieve.Script"

func openSieve(L *lua.LState, env *bindings.Env, store Store) int {
	mt := L.NewTypeMetatable(sieveScriptType)
	L.SetField(mt, "__index", L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"test": sieveTest,
		"run":  func(L *lua.LState) int { return sieveRun(L, store) },
	}))
	L.SetField(mt, "__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString("sieve.Script"))
		return 1
	}))
	mod := L.NewTable()
	L.SetField(mod, "compile", L.NewFunction(func(L *lua.LState) int { return sieveCompile(L, env) }))
	L.Push(mod)
	return 1
}

// sieveCompile is sieve.compile(text [, {name=, include_dir=}]). include reads
// NAME.sieve from include_dir; with none, or in the sandbox, include is refused.
func sieveCompile(L *lua.LState, env *bindings.Env) int {
	src := L.CheckString(1)
	opts := L.OptTable(2, nil)
	o := &sieve.Options{NoInclude: "this host gives include no script folder (set include_dir)"}
	if opts != nil {
		if v := opts.RawGetString("name"); v != lua.LNil {
			o.Name = lua.LVAsString(v)
		}
		if v := opts.RawGetString("include_dir"); v != lua.LNil {
			if env.Sandbox {
				L.RaiseError("sieve.compile: include_dir is not allowed in the sandbox, which reads no files")
			}
			o.PersonalDir = lua.LVAsString(v)
			o.NoInclude = ""
		}
	}
	if env.Sandbox {
		o.NoInclude = "not allowed in the sandbox, which reads no files"
	}
	s, err := sieve.Compile([]byte(src), o)
	if err != nil {
		var ce *sieve.CompileError
		if errors.As(err, &ce) {
			L.RaiseError("sieve.compile failed:\n%s", ce.Error())
		}
		L.RaiseError("sieve.compile: %v", err)
	}
	ud := L.NewUserData()
	ud.Value = s
	L.SetMetatable(ud, L.GetTypeMetatable(sieveScriptType))
	L.Push(ud)
	return 1
}

// sieveTest is script:test(raw [, {envelope_from=, envelope_to=, mailbox=, flags=}]):
// the result as mailscript sieve test --json prints it, as a table.
func sieveTest(L *lua.LState) int {
	ud := L.CheckUserData(1)
	s, ok := ud.Value.(*sieve.Script)
	if !ok {
		L.ArgError(1, "sieve.Script expected")
	}
	raw := L.CheckString(2)
	opts := L.OptTable(3, nil)
	charge(L, int64(len(raw))) // the parsed copy of the message
	msg, err := sieve.ParseMessage([]byte(raw))
	if err != nil {
		L.RaiseError("script:test: %v", err)
	}
	env := &sieve.Env{Mailbox: "INBOX", Duplicates: &sieve.MemoryDuplicates{}}
	if opts != nil {
		if v := opts.RawGetString("mailbox"); v != lua.LNil {
			env.Mailbox = lua.LVAsString(v)
		}
		from, to := lua.LVAsString(opts.RawGetString("envelope_from")), lua.LVAsString(opts.RawGetString("envelope_to"))
		if from != "" || to != "" {
			env.Envelope = &sieve.Envelope{From: from, To: to}
		}
		switch v := opts.RawGetString("flags").(type) {
		case lua.LString:
			msg.Flags = strings.Fields(string(v))
		case *lua.LTable:
			for i := 1; i <= v.Len(); i++ {
				msg.Flags = append(msg.Flags, lua.LVAsString(v.RawGetInt(i)))
			}
		case *lua.LNilType:
		default:
			L.ArgError(3, "flags must be a list or a space-separated string")
		}
	}
	L.Push(sieveValue(L, s.Run(msg, env).Map()))
	return 1
}

// sieveValue turns the plain values of [sieve.Result.Map] into Lua values.
func sieveValue(L *lua.LState, v any) lua.LValue {
	switch x := v.(type) {
	case nil:
		return lua.LNil
	case string:
		return lua.LString(x)
	case bool:
		return lua.LBool(x)
	case int:
		return lua.LNumber(x)
	case []string:
		t := L.CreateTable(len(x), 0)
		for _, s := range x {
			t.Append(lua.LString(s))
		}
		return t
	case [][2]string:
		t := L.CreateTable(len(x), 0)
		for _, f := range x {
			t.Append(sieveValue(L, []string{f[0], f[1]}))
		}
		return t
	case []map[string]any:
		t := L.CreateTable(len(x), 0)
		for _, m := range x {
			t.Append(sieveValue(L, m))
		}
		return t
	case map[string]any:
		if x == nil {
			return lua.LNil
		}
		t := L.CreateTable(0, len(x))
		for k, e := range x {
			t.RawSetString(k, sieveValue(L, e))
		}
		return t
	}
	return lua.LString(fmt.Sprint(v)) // no other type comes from Map
}
