package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/mailscript/mailscript/sieve"
)

const sieveUsage = `Usage:
  mailscript sieve check FILE...        compile Sieve scripts; print every error as sievec does
  mailscript sieve test [flags] SCRIPT MESSAGE.eml
                                        print what SCRIPT does with one message; nothing is sent
  mailscript sieve run [flags] SCRIPT   run SCRIPT over an IMAP mailbox (--account FILE or --host/--user;
                                        --mailbox, --dry-run, --all, --json; mailscript sieve run -h)
`

// sieveCmd runs "mailscript sieve check|test|run".
func (c *cli) sieveCmd(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, sieveUsage)
		return 2
	}
	switch args[0] {
	case "check":
		return c.sieveCheck(args[1:])
	case "test":
		return c.sieveTest(args[1:])
	case "run":
		return c.sieveRun(args[1:])
	case "help", "-h", "--help":
		fmt.Fprint(c.stdout, sieveUsage)
		return 0
	}
	fmt.Fprintf(c.stderr, "mailscript sieve: unknown command %q\n\n%s", args[0], sieveUsage)
	return 2
}

func (c *cli) sieveCheck(args []string) int {
	fs := flag.NewFlagSet("sieve check", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprint(c.stderr, sieveUsage)
		return 2
	}
	code := 0
	for _, path := range fs.Args() {
		if _, err := sieve.CompileFile(path, &sieve.Options{Name: path}); err != nil {
			fmt.Fprintln(c.stderr, err)
			code = 1
		}
	}
	return code
}

func (c *cli) sieveTest(args []string) int {
	fs := flag.NewFlagSet("sieve test", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	asJSON := fs.Bool("json", false, "print one JSON document: actions, implicit_keep, errors")
	from := fs.String("envelope-from", "", "the envelope sender; without --envelope-from or --envelope-to the envelope test is a runtime error, as over IMAP")
	to := fs.String("envelope-to", "", "the envelope recipient")
	mailbox := fs.String("mailbox", "INBOX", "the mailbox the message is in")
	flags := fs.String("flags", "", `the message's current flags, space-separated (e.g. '\Seen $Work')`)
	fs.Usage = func() {
		fmt.Fprint(c.stderr, sieveUsage+"\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return 2
	}
	script, err := sieve.CompileFile(fs.Arg(0), &sieve.Options{Name: fs.Arg(0)})
	if err != nil {
		fmt.Fprintln(c.stderr, err)
		return 1
	}
	raw, err := os.ReadFile(fs.Arg(1))
	if err != nil {
		fmt.Fprintln(c.stderr, "mailscript sieve test:", err)
		return 1
	}
	msg, err := sieve.ParseMessage(raw)
	if err != nil {
		fmt.Fprintln(c.stderr, "mailscript sieve test:", err)
		return 1
	}
	msg.Flags = strings.Fields(*flags)
	env := &sieve.Env{Mailbox: *mailbox, Duplicates: &sieve.MemoryDuplicates{}}
	if *from != "" || *to != "" {
		env.Envelope = &sieve.Envelope{From: *from, To: *to}
	}
	res := script.Run(msg, env)
	if *asJSON {
		out, err := json.Marshal(res)
		if err != nil {
			fmt.Fprintln(c.stderr, "mailscript sieve test:", err)
			return 1
		}
		fmt.Fprintln(c.stdout, string(out))
	} else {
		printSieveResult(c, res, *mailbox)
	}
	if len(res.Errors) > 0 {
		return 1
	}
	return 0
}

// printSieveResult writes the result as Pigeonhole's sieve-test does.
func printSieveResult(c *cli, res *sieve.Result, mailbox string) {
	for _, e := range res.Errors {
		fmt.Fprintln(c.stderr, e)
	}
	w := c.stdout
	fmt.Fprint(w, "\nPerformed actions:\n\n")
	if len(res.Actions) == 0 {
		fmt.Fprintln(w, "  (none)")
	}
	flagLine := func(flags []string) {
		if len(flags) > 0 {
			fmt.Fprintf(w, "        + add IMAP flags: %s\n", strings.Join(flags, " "))
		}
	}
	for _, a := range res.Actions {
		switch a.Kind {
		case "keep":
			fmt.Fprintf(w, " * store message in folder: %s\n", mailbox)
			flagLine(a.Flags)
		case "fileinto":
			fmt.Fprintf(w, " * store message in folder: %s\n", a.Mailbox)
			flagLine(a.Flags)
			if a.Create {
				fmt.Fprintln(w, "        + create mailbox if it does not exist")
			}
		case "discard":
			fmt.Fprintln(w, " * discard")
		case "redirect":
			fmt.Fprintf(w, " * redirect message to: <%s>\n", a.Address)
		case "reject", "ereject":
			fmt.Fprintf(w, " * reject message with reason: %q\n", a.Reason)
		case "vacation":
			fmt.Fprintf(w, " * send vacation message: days %d, subject %q, reason %q\n", a.Days, a.Subject, a.Reason)
		}
	}
	fmt.Fprint(w, "\nImplicit keep:\n\n")
	if res.ImplicitKeep == nil {
		fmt.Fprintln(w, "  (none)")
		return
	}
	fmt.Fprintf(w, " * store message in folder: %s\n", mailbox)
	flagLine(res.ImplicitKeep.Flags)
}
