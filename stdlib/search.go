package stdlib

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/protocol/imap"
)

// criteria turns a search table into IMAP search keys, quoted by the
// imap package's encoder: every key of the table must hold.
func criteria(t *lua.LTable, now time.Time) ([]imap.Arg, error) {
	var keys []string
	t.ForEach(func(k, _ lua.LValue) { keys = append(keys, lua.LVAsString(k)) })
	sort.Strings(keys) // the same table always gives the same command
	var out []imap.Arg
	for _, k := range keys {
		args, err := criterion(k, t.RawGetString(k), now)
		if err != nil {
			return nil, err
		}
		out = append(out, args...)
	}
	if len(out) == 0 {
		out = []imap.Arg{imap.Atom("ALL")}
	}
	return out, nil
}

var flagKeys = map[string][2]string{
	"seen": {"SEEN", "UNSEEN"}, "unseen": {"UNSEEN", "SEEN"}, "flagged": {"FLAGGED", "UNFLAGGED"},
	"answered": {"ANSWERED", "UNANSWERED"}, "deleted": {"DELETED", "UNDELETED"}, "draft": {"DRAFT", "UNDRAFT"},
	"recent": {"RECENT", "OLD"}, "new": {"NEW", "OLD"},
}

var textKeys = map[string]string{"from": "FROM", "to": "TO", "cc": "CC", "bcc": "BCC", "subject": "SUBJECT", "body": "BODY", "text": "TEXT"}

func criterion(k string, v lua.LValue, now time.Time) ([]imap.Arg, error) {
	if pair, ok := flagKeys[k]; ok {
		if lua.LVAsBool(v) {
			return []imap.Arg{imap.Atom(pair[0])}, nil
		}
		return []imap.Arg{imap.Atom(pair[1])}, nil
	}
	if key, ok := textKeys[k]; ok {
		return []imap.Arg{imap.Atom(key), imap.AString(lua.LVAsString(v))}, nil
	}
	switch k {
	case "keyword", "unkeyword":
		return []imap.Arg{imap.Atom(strings.ToUpper(k)), imap.Atom(lua.LVAsString(v))}, nil
	case "header":
		t, ok := v.(*lua.LTable)
		if !ok {
			return nil, fmt.Errorf("header: want a table of name = value")
		}
		var names []string
		t.ForEach(func(n, _ lua.LValue) { names = append(names, lua.LVAsString(n)) })
		sort.Strings(names)
		var out []imap.Arg
		for _, n := range names {
			out = append(out, imap.Atom("HEADER"), imap.AString(n), imap.AString(lua.LVAsString(t.RawGetString(n))))
		}
		return out, nil
	case "larger", "smaller":
		n, ok := v.(lua.LNumber)
		if !ok || n < 0 {
			return nil, fmt.Errorf("%s: want a size in bytes", k)
		}
		return []imap.Arg{imap.Atom(strings.ToUpper(k)), imap.Atom(strconv.FormatInt(int64(n), 10))}, nil
	case "older_than", "newer_than":
		d, err := ParseAge(lua.LVAsString(v))
		if err != nil {
			return nil, fmt.Errorf("%s: %v", k, err)
		}
		key := "BEFORE"
		if k == "newer_than" {
			key = "SINCE"
		}
		return []imap.Arg{imap.Atom(key), imap.Atom(IMAPDate(now.Add(-d)))}, nil
	case "before", "since", "on", "sentbefore", "sentsince", "senton":
		t, err := dateValue(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", k, err)
		}
		return []imap.Arg{imap.Atom(strings.ToUpper(k)), imap.Atom(IMAPDate(t))}, nil
	case "uid":
		return []imap.Arg{imap.Atom("UID"), imap.Set(lua.LVAsString(v))}, nil
	case "raw":
		return []imap.Arg{imap.Raw(lua.LVAsString(v))}, nil
	case "all", "any", "none":
		list, ok := v.(*lua.LTable)
		if !ok {
			return nil, fmt.Errorf("%s: want a list of criteria tables", k)
		}
		var groups [][]imap.Arg
		var err error
		list.ForEach(func(_, x lua.LValue) {
			sub, ok := x.(*lua.LTable)
			if !ok {
				err = fmt.Errorf("%s: want a list of criteria tables", k)
				return
			}
			g, e := criteria(sub, now)
			if e != nil {
				err = e
			}
			groups = append(groups, g)
		})
		if err != nil {
			return nil, err
		}
		return combine(k, groups), nil
	}
	return nil, fmt.Errorf("unknown search criterion %q", k)
}

func paren(args []imap.Arg) imap.Arg { return imap.Group(args...) }

// combine joins groups: all ANDs, any ORs (nested ORs, as IMAP's OR takes
// two keys), none NOTs each.
func combine(k string, groups [][]imap.Arg) []imap.Arg {
	if len(groups) == 0 {
		if k == "any" {
			return []imap.Arg{imap.Atom("NOT"), imap.Atom("ALL")}
		}
		return []imap.Arg{imap.Atom("ALL")}
	}
	switch k {
	case "any":
		out := []imap.Arg{paren(groups[len(groups)-1])}
		for i := len(groups) - 2; i >= 0; i-- {
			out = []imap.Arg{imap.Atom("OR"), paren(groups[i]), paren(out)}
		}
		return out
	case "none":
		var out []imap.Arg
		for _, g := range groups {
			out = append(out, imap.Atom("NOT"), paren(g))
		}
		return out
	}
	var out []imap.Arg
	for _, g := range groups {
		out = append(out, paren(g))
	}
	return out
}

var ageRE = regexp.MustCompile(`^\s*(\d+)\s*([smhdwy]?)\s*$`)

// ParseAge reads "90d", "12h", "2w", "1y" (a number alone is days).
func ParseAge(s string) (time.Duration, error) {
	m := ageRE.FindStringSubmatch(strings.ToLower(s))
	if m == nil {
		return 0, fmt.Errorf("bad age %q (want e.g. 90d, 12h, 2w)", s)
	}
	n, _ := strconv.Atoi(m[1])
	unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "": 24 * time.Hour,
		"w": 7 * 24 * time.Hour, "y": 365 * 24 * time.Hour}[m[2]]
	return time.Duration(n) * unit, nil
}

// IMAPDate formats a day as IMAP's date: 2-Jan-2006.
func IMAPDate(t time.Time) string { return t.Format("2-Jan-2006") }

func dateValue(v lua.LValue) (time.Time, error) {
	switch x := v.(type) {
	case lua.LNumber:
		return time.Unix(int64(x), 0), nil
	case lua.LString:
		for _, layout := range []string{"2006-01-02", "2-Jan-2006", "02-Jan-2006"} {
			if t, err := time.Parse(layout, string(x)); err == nil {
				return t, nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("bad date %v (want 2024-01-31 or epoch seconds)", v)
}
