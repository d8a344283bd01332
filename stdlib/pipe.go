package stdlib

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/bindings"
)

// openPipe is the pipe module, imapfilter's pipe_to and pipe_from:
// pipe.to(command, data) runs command with data on its standard input
// and returns its exit status and output; pipe.from(command) returns a
// command's output. Commands run with sh -c; the sandbox has neither.
func openPipe(L *lua.LState, env *bindings.Env) int {
	mod := L.NewTable()
	run := func(L *lua.LState, command string, stdin []byte) (int, string) {
		if env.Sandbox {
			L.RaiseError("pipe: running commands is not allowed in the sandbox")
		}
		cmd := exec.CommandContext(bindings.Ctx(L), "/bin/sh", "-c", command)
		if stdin != nil {
			cmd.Stdin = bytes.NewReader(stdin)
		}
		var out bytes.Buffer
		cmd.Stdout = &out
		cmd.Stderr = env.Stderr
		err := cmd.Run()
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			return ee.ExitCode(), out.String()
		case err != nil:
			L.RaiseError("pipe: %v", err)
		}
		return 0, out.String()
	}
	to := L.NewFunction(func(L *lua.LState) int {
		status, out := run(L, L.CheckString(1), []byte(L.CheckString(2)))
		L.Push(lua.LNumber(status))
		L.Push(lua.LString(out))
		return 2
	})
	from := L.NewFunction(func(L *lua.LState) int {
		_, out := run(L, L.CheckString(1), nil)
		L.Push(lua.LString(strings.TrimRight(out, "\n")))
		return 1
	})
	mod.RawSetString("to", to)
	mod.RawSetString("from", from)
	L.Push(mod)
	return 1
}
