package runtime_test

import (
	"context"
	"fmt"

	"github.com/mailscript/mailscript/runtime"
)

func Example() {
	rt := runtime.New(runtime.Options{Sandbox: true})
	_, err := rt.RunString(context.Background(), "hello.lua", `
local imap = require("imap")
print(imap.Int2AP(4096), #imap.ParseFlags("1 (FLAGS (\\Seen \\Answered))"))
print(pcall(function() return io.open("/etc/passwd") end))
print(pcall(function() return require("debug").getinfo end))`)
	fmt.Println(err)
	// Output:
	// BAAA	2
	// false	hello.lua:4: io.open: io is not available in the sandbox
	// false	hello.lua:5: debug.getinfo is not available in the sandbox
	// <nil>
}

func ExampleRuntime_RunString_dryRun() {
	rt := runtime.New(runtime.Options{DryRun: true})
	res, err := rt.RunString(context.Background(), "plan.lua", `print("nothing connected")`)
	fmt.Println(len(res.Plan), err)
	// Output:
	// nothing connected
	// 0 <nil>
}

func ExampleScriptError() {
	rt := runtime.New(runtime.Options{})
	_, err := rt.RunString(context.Background(), "broken.lua", "local x = 1\nerror('no such mailbox')")
	fmt.Println(err)
	// Output:
	// broken.lua:2: no such mailbox
}
