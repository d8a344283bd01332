package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Cold start: "mailscript run" of an empty script against a Go
// hello-world binary started the same way (target: at most 3x). Compare
// the two ns/op figures of one run.

func BenchmarkColdStartEmptyScript(b *testing.B) {
	script := filepath.Join(b.TempDir(), "empty.lua")
	os.WriteFile(script, nil, 0o600)
	for i := 0; i < b.N; i++ {
		if err := exec.Command(bin, "run", script).Run(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkColdStartGoHelloWorld(b *testing.B) {
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Print(\"\") }\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module hello\n\ngo 1.22\n"), 0o600)
	hello := filepath.Join(dir, "hello")
	cmd := exec.Command("go", "build", "-o", hello, ".")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatal(string(out))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := exec.Command(hello).Run(); err != nil {
			b.Fatal(err)
		}
	}
}
