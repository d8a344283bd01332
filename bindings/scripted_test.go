package bindings_test

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// scripted is the Lua tests' scripted(steps) server: it serves one
// connection by steps, each a string: "> bytes" sends bytes as they are
// (no line end added), "< line" reads a line and checks it equals line
// once the tag is cut off (a line without a tag, DONE, is compared
// whole), "= text" answers the last tag with text and CRLF, "~ seconds"
// waits. It returns host, port and check(), which waits for the script
// to end and returns true, or false and what went wrong.
func scripted(L *lua.LState) int {
	steps := L.CheckTable(1)
	var list []string
	steps.ForEach(func(_, v lua.LValue) { list = append(list, lua.LVAsString(v)) })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		L.RaiseError("%v", err)
	}
	result := make(chan error, 1)
	go func() {
		defer l.Close()
		result <- serveSteps(l, list)
	}()
	host, port, _ := net.SplitHostPort(l.Addr().String())
	n, _ := strconv.Atoi(port)
	L.Push(lua.LString(host))
	L.Push(lua.LNumber(n))
	L.Push(L.NewFunction(func(L *lua.LState) int {
		select {
		case err := <-result:
			if err != nil {
				L.Push(lua.LFalse)
				L.Push(lua.LString(err.Error()))
				return 2
			}
			L.Push(lua.LTrue)
			return 1
		case <-time.After(10 * time.Second):
			l.Close()
			L.Push(lua.LFalse)
			L.Push(lua.LString("the scripted server did not finish"))
			return 2
		}
	}))
	return 3
}

func serveSteps(l net.Listener, steps []string) error {
	if tl, ok := l.(*net.TCPListener); ok {
		tl.SetDeadline(time.Now().Add(10 * time.Second))
	}
	c, err := l.Accept()
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	tag := ""
	for i, s := range steps {
		op, arg, _ := strings.Cut(s, " ")
		switch op {
		case ">":
			if _, err := c.Write([]byte(arg)); err != nil {
				return fmt.Errorf("step %d: %v", i+1, err)
			}
		case "=":
			if _, err := c.Write([]byte(tag + " " + arg + "\r\n")); err != nil {
				return fmt.Errorf("step %d: %v", i+1, err)
			}
		case "~":
			d, _ := strconv.ParseFloat(arg, 64)
			time.Sleep(time.Duration(d * float64(time.Second)))
		case "<":
			line, err := r.ReadString('\n')
			if err != nil {
				return fmt.Errorf("step %d: want %q: %v", i+1, arg, err)
			}
			got := strings.TrimSuffix(line, "\r\n")
			if t, rest, ok := strings.Cut(got, " "); ok && got != arg {
				tag, got = t, rest
			}
			if got != arg {
				return fmt.Errorf("step %d: got %q, want %q", i+1, line, arg)
			}
		default:
			return fmt.Errorf("step %d: unknown %q", i+1, s)
		}
	}
	return nil
}
