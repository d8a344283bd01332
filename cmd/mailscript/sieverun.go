package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/mailscript/mailscript/bindings"
	"github.com/mailscript/mailscript/runtime"
	"github.com/mailscript/mailscript/sieve"
)

// sieveRunChunk is the Lua run of "mailscript sieve run": the account, the
// script compiled, script:run over the mailbox, and the report printed
// (as JSON for --json, on a stdout of its own).
const sieveRunChunk = `
local sieve, json, account = require("sieve"), require("json"), require("account")
local src, name, dir, mbox, all, discard, asjson, file, host, port, user, tls, passenv, state = unpack(arg)
local acct
if file ~= "" then
  acct = dofile(file)
else
  acct = account.connect{host = host, port = tonumber(port) ~= 0 and tonumber(port) or nil, user = user, tls = tls,
    password = account.secret("env:" .. passenv)}
end
local s = sieve.compile(src, {name = name, include_dir = dir})
local r = s:run(acct:mailbox(mbox), nil, {all = all == "true", discard = discard, state = state ~= "" and state or nil})
acct:close()
if asjson == "true" then
  print(json.encode(r))
  return
end
for _, m in ipairs(r.messages) do
  local acts = {}
  for _, a in ipairs(m.actions) do
    local t = a.action
    if a.mailbox then t = t .. " " .. a.mailbox end
    if a.flags and #a.flags > 0 then t = t .. " [" .. table.concat(a.flags, " ") .. "]" end
    acts[#acts + 1] = t
  end
  if m.implicit_keep then acts[#acts + 1] = "implicit keep" end
  print(string.format("UID %d: %s: %s", m.uid, m.result, table.concat(acts, ", ")))
  for _, e in ipairs(m.errors or {}) do print("  error: " .. e) end
end
print(string.format("%s: %d message(s) examined: %d kept, %d filed, %d discarded, %d with errors",
  r.mailbox, r.examined, r.totals.kept, r.totals.filed, r.totals.discarded, r.totals.errors))
`

func (c *cli) sieveRun(args []string) int {
	var rf runFlags
	fs := c.flags("sieve run", "SCRIPT", "Runs a Sieve script over an IMAP mailbox (RFC 6785): by default only the messages\n"+
		"that arrived since the last run; --all takes every message. The account is --account FILE\n"+
		"(a Lua file that returns an account, e.g. return require(\"account\").connect{...}) or the\n"+
		"--host, --port, --user, --password-env and --tls flags.", &rf)
	accountFile := fs.String("account", "", "a Lua file that returns the account (account.connect{...})")
	host := fs.String("host", "", "the IMAP server")
	port := fs.Int("port", 0, "its port (default 993, or 143 with --tls starttls|none)")
	user := fs.String("user", "", "the user name")
	passEnv := fs.String("password-env", "IMAP_PASSWORD", "the environment variable holding the password")
	tlsMode := fs.String("tls", "implicit", `"implicit", "starttls" or "none" (loopback only)`)
	mailbox := fs.String("mailbox", "INBOX", "the mailbox to run over")
	all := fs.Bool("all", false, "every message, not only those after the last run's")
	discard := fs.String("discard", "expunge", `what discard does: "expunge", "keep" or "trash"`)
	stateKey := fs.String("state", "", "the name of the incremental run's state (default sieve-USER@HOST:PORT-MAILBOX); give each script its own")
	rest, status := parseRunFlags(fs, &rf, args)
	if status >= 0 {
		return status
	}
	if len(rest) != 1 {
		fs.Usage()
		return 2
	}
	if rf.sandbox || rf.inProcess || len(rf.env) > 0 || len(rf.allowHosts) > 0 {
		// the run reads the script, the account file and the password's variable: no sandbox
		fmt.Fprintln(c.stderr, "mailscript sieve run: --sandbox, --in-process, --env and --allow-host do not apply (the Sieve script itself does nothing but its actions)")
		return 2
	}
	switch {
	case *accountFile != "" && *host != "":
		fmt.Fprintln(c.stderr, "mailscript sieve run: give --account or --host, not both")
		return 2
	case *accountFile == "" && (*host == "" || *user == ""):
		fmt.Fprintln(c.stderr, "mailscript sieve run: no account: give --account FILE, or --host and --user")
		return 2
	}
	path := rest[0]
	src, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(c.stderr, "mailscript sieve run:", err)
		return 1
	}
	// compile errors as sieve check prints them, before any connection
	if _, err := sieve.Compile(src, &sieve.Options{Name: path, PersonalDir: filepath.Dir(path)}); err != nil {
		fmt.Fprintln(c.stderr, err)
		return 1
	}
	// the values go as arguments, never spliced into the chunk's text
	argv := []string{string(src), path, filepath.Dir(path), *mailbox, strconv.FormatBool(*all), *discard, strconv.FormatBool(rf.json),
		*accountFile, *host, strconv.Itoa(*port), *user, *tlsMode, *passEnv, *stateKey}
	if done := c.logTo(&rf); done != nil {
		defer done()
	} else if rf.logFile != "" {
		return 1
	}
	var report bytes.Buffer
	out := c.stdout
	if rf.json {
		out = &report
	}
	rt := runtime.New(runtime.Options{
		DryRun: rf.dryRun, WallTime: rf.timeout, Debug: rf.debug, Stdout: out, Stderr: c.stderr,
		MaxMemory: int64(rf.memory), MaxOutput: int64(rf.maxOutput), MaxConnections: rf.maxConnections,
	})
	ctx, sig, stop := signalContext()
	defer stop()
	res, err := rt.RunString(ctx, "mailscript sieve run", sieveRunChunk, argv...)
	if !rf.json {
		return c.finish(&rf, sig, res, err)
	}
	code := 0
	if err != nil {
		code = 1
	}
	word, sigCode := sig.stopped()
	if word != "" {
		err, code = fmt.Errorf("%s", word), sigCode
	}
	doc := struct {
		DryRun bool              `json:"dry_run"`
		Plan   []bindings.Action `json:"plan"`
		Report json.RawMessage   `json:"report"`
		Result jsonResult        `json:"result"`
	}{DryRun: rf.dryRun, Plan: []bindings.Action{}, Report: json.RawMessage("null"), Result: jsonResult{OK: err == nil, Exit: code}}
	if res != nil && res.Plan != nil {
		doc.Plan = res.Plan
	}
	if r := bytes.TrimSpace(report.Bytes()); len(r) > 0 && json.Valid(r) {
		doc.Report = r
	}
	if err != nil {
		doc.Result.Error = err.Error()
		var se *runtime.ScriptError
		if errors.As(err, &se) {
			doc.Result.Kind = se.Kind
		}
	}
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	enc.Encode(doc)
	if err != nil {
		c.report(err)
	}
	return code
}
