package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/mailscript/mailscript/stubs"
)

// stubsCmd is `mailscript stubs DIR`: the LuaLS annotation files, for an
// editor's workspace.library.
func (c *cli) stubsCmd(args []string) int {
	fset := c.flags("stubs", "DIR", "Writes LuaLS annotation stubs (one file per module) into DIR, for editors:\n"+
		"add DIR to \"workspace.library\" in .luarc.json to complete and type-check scripts.", nil)
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fset.NArg() != 1 {
		fset.Usage()
		return 2
	}
	dir := fset.Arg(0)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(c.stderr, "mailscript stubs:", err)
		return 1
	}
	names, _ := fs.Glob(stubs.FS, "*.lua")
	for _, name := range names {
		b, _ := stubs.FS.ReadFile(name)
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			fmt.Fprintln(c.stderr, "mailscript stubs:", err)
			return 1
		}
	}
	fmt.Fprintf(c.stdout, "%d stub file(s) written to %s; add it to \"workspace.library\" in .luarc.json\n", len(names), dir)
	return 0
}
