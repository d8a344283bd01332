package main

import (
	_ "embed"
	"fmt"
	"net"
	"time"

	"github.com/mailscript/mailscript/internal/mailgen"
	"github.com/mailscript/mailscript/internal/memserver"
	"github.com/mailscript/mailscript/stdlib"
)

//go:embed demo/triage.lua
var triageScript string

// demoMessages are 200 generated messages spread over the last 200 days.
func demoMessages(now time.Time) []memserver.Message {
	g := mailgen.New(2026)
	msgs := make([]memserver.Message, 0, 200)
	for i := 0; i < 200; i++ {
		m := g.Message(i)
		msgs = append(msgs, memserver.Message{Raw: m.Raw, Date: now.Add(-time.Duration(200-i) * 24 * time.Hour), Seen: m.Seen})
	}
	return msgs
}

func (c *cli) demoCmd(args []string) int {
	var rf runFlags
	fs := c.flags("demo", "", "Starts an IMAP and a POP3 server in this process on 127.0.0.1, seeded with 200\n"+
		"generated messages (lists, newsletters, people, attachments, several charsets), runs a\n"+
		"bundled triage script against them and prints what each rule did. No mail account needed.", &rf)
	if _, code := parseRunFlags(fs, &rf, args); code >= 0 {
		return code
	}
	if done := c.logTo(&rf); done != nil {
		defer done()
	} else if rf.logFile != "" {
		return 1
	}
	msgs := demoMessages(time.Now())
	imapSrv, err := memserver.StartIMAP("demo", "demo", msgs, nil)
	if err != nil {
		fmt.Fprintln(c.stderr, "mailscript demo:", err)
		return 1
	}
	defer imapSrv.Close()
	var raws [][]byte
	for _, m := range msgs[:20] {
		raws = append(raws, m.Raw)
	}
	popSrv, err := memserver.StartPOP3("demo", "demo", raws)
	if err != nil {
		fmt.Fprintln(c.stderr, "mailscript demo:", err)
		return 1
	}
	defer popSrv.Close()
	host, imapPort, _ := net.SplitHostPort(imapSrv.Addr)
	_, popPort, _ := net.SplitHostPort(popSrv.Addr)
	fmt.Fprintf(c.out(&rf), "mailscript demo: IMAP on %s, POP3 on %s (user demo, password demo)\n\n", imapSrv.Addr, popSrv.Addr)

	ctx, sig, stop := signalContext()
	defer stop()
	if rf.sandbox { // the demo's own servers
		rf.allowHosts = append(rf.allowHosts, imapSrv.Addr, popSrv.Addr)
	}
	rt := c.runtime(&rf)
	rt.SetState(&stdlib.MemStore{}) // the demo leaves nothing behind
	res, err := rt.RunString(ctx, "demo/triage.lua", triageScript, host, imapPort, popPort)
	if res != nil && rf.dryRun && !rf.json {
		fmt.Fprintln(c.stdout)
	}
	code := c.finish(&rf, sig, res, err)
	if code == 0 {
		hint := "\nThe script is cmd/mailscript/demo/triage.lua"
		if !rf.dryRun {
			hint += "; try: mailscript demo --dry-run"
		}
		fmt.Fprintln(c.out(&rf), hint)
	}
	return code
}
