package sieve

import (
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"
)

// dateTest runs date and currentdate (RFC 5260 §4-5).
func (in *interp) dateTest(name string, c *cargs) (bool, error) {
	var t time.Time
	i := 0
	if name == "date" {
		i = 1
		vals := in.headerValuesRaw(in.str(&c.pos[0]), c)
		// With no :index, the first field is used.
		var d time.Time
		ok := len(vals) > 0
		if ok {
			d, ok = parseDate(vals[0])
		}
		if !ok {
			return in.matchWith(c, nil, in.strs(&c.pos[2]))
		}
		t = d
	} else {
		t = in.now()
	}
	if z := c.tags["zone"]; z != nil {
		loc, ok := parseZone(in.str(z))
		if !ok {
			return false, nil
		}
		t = t.In(loc)
	} else if c.tags["originalzone"] == nil && name == "date" {
		t = t.In(in.localZone())
	} else if name == "currentdate" {
		t = t.In(in.localZone())
	}
	part := strings.ToLower(in.str(&c.pos[i]))
	v, ok := datePart(t, part)
	if !ok {
		return false, in.errorf("%s: invalid date part '%s'", name, part)
	}
	vals := []string{v}
	return in.matchWith(c, vals, in.strs(&c.pos[i+1]))
}

func (in *interp) localZone() *time.Location {
	if in.env.Now.IsZero() {
		return time.Local
	}
	return in.env.Now.Location()
}

func parseZone(z string) (*time.Location, bool) {
	if len(z) != 5 || (z[0] != '+' && z[0] != '-') {
		return nil, false
	}
	h, err1 := strconv.Atoi(z[1:3])
	m, err2 := strconv.Atoi(z[3:5])
	if err1 != nil || err2 != nil || h > 23 || m > 59 {
		return nil, false
	}
	off := h*3600 + m*60
	if z[0] == '-' {
		off = -off
	}
	return time.FixedZone(z, off), true
}

func parseDate(v string) (time.Time, bool) {
	if i := strings.LastIndexByte(v, ';'); i >= 0 {
		v = v[i+1:] // a Received field's date follows its last ';'
	}
	v = strings.TrimSpace(stripComments(unfold(v)))
	if t, err := mail.ParseDate(v); err == nil {
		return t, true
	}
	for _, layout := range []string{"Mon, 2 Jan 2006 15:04 -0700", "2 Jan 2006 15:04 -0700", "Mon, 2 Jan 06 15:04:05 -0700", "2 Jan 06 15:04:05 -0700"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func zoneString(t time.Time) string {
	_, off := t.Zone()
	sign := '+'
	if off < 0 {
		sign, off = '-', -off
	}
	return fmt.Sprintf("%c%02d%02d", sign, off/3600, off%3600/60)
}

func datePart(t time.Time, part string) (string, bool) {
	switch part {
	case "year":
		return fmt.Sprintf("%04d", t.Year()), true
	case "month":
		return fmt.Sprintf("%02d", int(t.Month())), true
	case "day":
		return fmt.Sprintf("%02d", t.Day()), true
	case "date":
		return fmt.Sprintf("%04d-%02d-%02d", t.Year(), int(t.Month()), t.Day()), true
	case "julian":
		// Modified Julian Day: days since 1858-11-17.
		y, m, d := t.Date()
		day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		base := time.Date(1858, 11, 17, 0, 0, 0, 0, time.UTC)
		return strconv.Itoa(int(day.Sub(base).Hours() / 24)), true
	case "hour":
		return fmt.Sprintf("%02d", t.Hour()), true
	case "minute":
		return fmt.Sprintf("%02d", t.Minute()), true
	case "second":
		return fmt.Sprintf("%02d", t.Second()), true
	case "time":
		return fmt.Sprintf("%02d:%02d:%02d", t.Hour(), t.Minute(), t.Second()), true
	case "iso8601":
		z := zoneString(t)
		return t.Format("2006-01-02T15:04:05") + z[:3] + ":" + z[3:], true
	case "std11":
		return t.Format("Mon, 02 Jan 2006 15:04:05 ") + zoneString(t), true
	case "zone":
		return zoneString(t), true
	case "weekday":
		return strconv.Itoa(int(t.Weekday())), true
	}
	return "", false
}
