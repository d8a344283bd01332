package sieve

// What each command and test takes, for the validator (RFC 5228 §2.6-2.7 and each extension).

type kindSet byte

const (
	kStr  kindSet = 'S' // one string
	kList kindSet = 'L' // a string or a string list
	kNum  kindSet = 'N' // a number
)

type tagSpec struct {
	group string  // tags of one group exclude each other ("match", "comparator", ...)
	param kindSet // 0 when the tag takes no parameter
	ext   string  // the capability that enables the tag, "" for core
}

type posArg struct {
	kind kindSet
	name string
}

type spec struct {
	name  string
	test  bool
	ext   string
	tags  map[string]tagSpec
	pos   [][]posArg // alternatives, shortest first
	tests int        // 0: none, 1: exactly one, -1: a list
	block bool
}

var (
	matchTags = map[string]tagSpec{
		"is": {group: "match"}, "contains": {group: "match"}, "matches": {group: "match"},
		"regex":      {group: "match", ext: "regex"},
		"value":      {group: "match", param: kStr, ext: "relational"},
		"count":      {group: "match", param: kStr, ext: "relational"},
		"comparator": {group: "comparator", param: kStr},
	}
	addrTags = map[string]tagSpec{
		"localpart": {group: "addrpart"}, "domain": {group: "addrpart"}, "all": {group: "addrpart"},
		"user": {group: "addrpart", ext: "subaddress"}, "detail": {group: "addrpart", ext: "subaddress"},
	}
	indexTags = map[string]tagSpec{
		"index": {group: "index", param: kNum, ext: "index"},
		"last":  {group: "last", ext: "index"},
	}
)

func merge(ms ...map[string]tagSpec) map[string]tagSpec {
	out := map[string]tagSpec{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func pa(args ...any) []posArg {
	var out []posArg
	for i := 0; i < len(args); i += 2 {
		out = append(out, posArg{kind: args[i].(kindSet), name: args[i+1].(string)})
	}
	return out
}

func alts(a ...[]posArg) [][]posArg { return a }

// baseSpecs are the commands and tests this package implements.
func baseSpecs() map[string]*spec {
	list := []*spec{
		{name: "require", pos: alts(pa(kList, "capabilities"))},
		{name: "if", tests: 1, block: true},
		{name: "elsif", tests: 1, block: true},
		{name: "else", block: true},
		{name: "stop"},
		{name: "keep", tags: map[string]tagSpec{"flags": {param: kList, ext: "imap4flags"}}},
		{name: "discard"},
		{name: "fileinto", ext: "fileinto", pos: alts(pa(kStr, "folder")), tags: map[string]tagSpec{
			"copy": {ext: "copy"}, "flags": {param: kList, ext: "imap4flags"},
			"create": {ext: "mailbox"}, "specialuse": {param: kStr, ext: "special-use"}}},
		{name: "redirect", pos: alts(pa(kStr, "address")), tags: map[string]tagSpec{"copy": {ext: "copy"}}},
		{name: "reject", ext: "reject", pos: alts(pa(kStr, "reason"))},
		{name: "ereject", ext: "ereject", pos: alts(pa(kStr, "reason"))},
		{name: "vacation", ext: "vacation", pos: alts(pa(kStr, "reason")), tags: map[string]tagSpec{
			"days": {group: "period", param: kNum}, "seconds": {group: "period", param: kNum, ext: "vacation-seconds"},
			"subject": {param: kStr}, "from": {param: kStr}, "addresses": {param: kList},
			"mime": {}, "handle": {param: kStr}}},
		{name: "setflag", ext: "imap4flags", pos: alts(pa(kList, "flag list"), pa(kStr, "variable name", kList, "flag list"))},
		{name: "addflag", ext: "imap4flags", pos: alts(pa(kList, "flag list"), pa(kStr, "variable name", kList, "flag list"))},
		{name: "removeflag", ext: "imap4flags", pos: alts(pa(kList, "flag list"), pa(kStr, "variable name", kList, "flag list"))},
		{name: "set", ext: "variables", pos: alts(pa(kStr, "name", kStr, "value")), tags: map[string]tagSpec{
			"lower": {group: "case"}, "upper": {group: "case"},
			"lowerfirst": {group: "first"}, "upperfirst": {group: "first"},
			"quotewildcard": {group: "quote"}, "quoteregex": {group: "quote", ext: "regex"},
			"encodeurl": {group: "quote", ext: "enotify"}, "length": {group: "length"}}},
		{name: "include", ext: "include", pos: alts(pa(kStr, "script-name")), tags: map[string]tagSpec{
			"personal": {group: "location"}, "global": {group: "location"}, "once": {}, "optional": {}}},
		{name: "return", ext: "include"},
		{name: "global", ext: "include", pos: alts(pa(kList, "value"))},
		{name: "addheader", ext: "editheader", pos: alts(pa(kStr, "field name", kStr, "value")),
			tags: map[string]tagSpec{"last": {}}},
		{name: "deleteheader", ext: "editheader", pos: alts(pa(kStr, "field name"), pa(kStr, "field name", kList, "value patterns")),
			tags: merge(matchTags, map[string]tagSpec{"index": {group: "index", param: kNum}, "last": {group: "last"}})},
		{name: "error", ext: "ihave", pos: alts(pa(kStr, "message"))},

		{name: "address", test: true, pos: alts(pa(kList, "header list", kList, "key list")), tags: merge(matchTags, addrTags, indexTags)},
		{name: "envelope", test: true, ext: "envelope", pos: alts(pa(kList, "envelope part", kList, "key list")), tags: merge(matchTags, addrTags)},
		{name: "header", test: true, pos: alts(pa(kList, "header names", kList, "key list")), tags: merge(matchTags, indexTags)},
		{name: "exists", test: true, pos: alts(pa(kList, "header names"))},
		{name: "size", test: true, pos: alts(pa(kNum, "limit")), tags: map[string]tagSpec{"over": {group: "size"}, "under": {group: "size"}}},
		{name: "allof", test: true, tests: -1},
		{name: "anyof", test: true, tests: -1},
		{name: "not", test: true, tests: 1},
		{name: "true", test: true},
		{name: "false", test: true},
		{name: "hasflag", test: true, ext: "imap4flags", pos: alts(pa(kList, "flag list"), pa(kList, "variable list", kList, "flag list")), tags: matchTags},
		{name: "string", test: true, ext: "variables", pos: alts(pa(kList, "source", kList, "key list")), tags: matchTags},
		{name: "body", test: true, ext: "body", pos: alts(pa(kList, "key list")), tags: merge(matchTags, map[string]tagSpec{
			"raw": {group: "transform"}, "content": {group: "transform", param: kList}, "text": {group: "transform"}})},
		{name: "date", test: true, ext: "date", pos: alts(pa(kStr, "header name", kStr, "date part", kList, "key list")), tags: merge(matchTags, indexTags, map[string]tagSpec{
			"zone": {group: "zone", param: kStr}, "originalzone": {group: "zone"}})},
		{name: "currentdate", test: true, ext: "date", pos: alts(pa(kStr, "date part", kList, "key list")), tags: merge(matchTags, map[string]tagSpec{
			"zone": {group: "zone", param: kStr}})},
		{name: "mailboxexists", test: true, ext: "mailbox", pos: alts(pa(kList, "mailbox-names"))},
		{name: "specialuse_exists", test: true, ext: "special-use", pos: alts(pa(kList, "special-use-flags"), pa(kStr, "mailbox", kList, "special-use-flags"))},
		{name: "spamtest", test: true, ext: "spamtest", pos: alts(pa(kStr, "value")), tags: merge(matchTags, map[string]tagSpec{"percent": {ext: "spamtestplus"}})},
		{name: "virustest", test: true, ext: "virustest", pos: alts(pa(kStr, "value")), tags: matchTags},
		{name: "environment", test: true, ext: "environment", pos: alts(pa(kStr, "name", kList, "key list")), tags: matchTags},
		{name: "ihave", test: true, ext: "ihave", pos: alts(pa(kList, "capabilities"))},
		{name: "duplicate", test: true, ext: "duplicate", tags: map[string]tagSpec{
			"handle": {param: kStr}, "header": {group: "id", param: kStr}, "uniqueid": {group: "id", param: kStr},
			"seconds": {param: kNum}, "last": {}}},
	}
	m := map[string]*spec{}
	for _, s := range list {
		m[s.name] = s
	}
	return m
}

// capabilities are the extensions "require" accepts.
var capabilities = map[string]bool{
	"fileinto": true, "envelope": true, "encoded-character": true, "copy": true, "imap4flags": true,
	"variables": true, "relational": true, "comparator-i;ascii-numeric": true,
	"comparator-i;octet": true, "comparator-i;ascii-casemap": true, "subaddress": true,
	"regex": true, "body": true, "date": true, "index": true, "mailbox": true, "special-use": true,
	"spamtest": true, "spamtestplus": true, "virustest": true, "environment": true,
	"include": true, "ihave": true, "duplicate": true, "editheader": true, "reject": true,
	"ereject": true, "vacation": true, "vacation-seconds": true,
}

// undeliverable are the commands with no meaning for stored mail (RFC 6785 §3.11).
var undeliverable = map[string]bool{"reject": true, "ereject": true, "vacation": true}
