package sieve_test

import (
	"fmt"

	"github.com/mailscript/mailscript/sieve"
)

func ExampleScript_Run() {
	script, err := sieve.Compile([]byte(`require ["fileinto", "imap4flags", "variables"];
if header :matches "list-id" "<*.example.org>" {
	addflag "$Lists";
	fileinto "Lists/${1}";
}`), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	msg, _ := sieve.ParseMessage([]byte("From: a@example.org\r\nList-Id: <golang.example.org>\r\nSubject: hi\r\n\r\nbody\r\n"))
	msg.Flags = []string{`\Seen`}
	res := script.Run(msg, &sieve.Env{Mailbox: "INBOX"})
	for _, a := range res.Actions {
		fmt.Println(a.Kind, a.Mailbox, a.Flags)
	}
	fmt.Println("implicit keep:", res.ImplicitKeep != nil)
	// Output:
	// fileinto Lists/golang [\Seen $Lists]
	// implicit keep: false
}

func ExampleCompile() {
	_, err := sieve.Compile([]byte("require \"fileinto\";\nfrob;\nfileinto 1;\n"), &sieve.Options{Name: "rules.sieve"})
	fmt.Println(err)
	// Output:
	// rules.sieve: line 2: error: unknown command 'frob' (only reported once at first occurrence)
	// rules.sieve: line 3: error: the fileinto command expects a string as argument 1 (folder), but a number was found
	// rules.sieve: error: validation failed
}
