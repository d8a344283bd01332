package sieve

import (
	"mime"
	"strings"
)

// undeletable fields (RFC 5293 §6: trace fields and Auto-Submitted).
var undeletable = map[string]bool{"received": true, "auto-submitted": true}

func listed(list []string, name string) bool {
	for _, x := range list {
		if strings.EqualFold(x, name) && !strings.EqualFold(x, "subject") {
			return true
		}
	}
	return false
}

// mayEdit reports whether the host's policy lets a script add (or delete) field name.
func (in *interp) mayEdit(name string, add bool) bool {
	o := in.main.opts
	if listed(o.HeaderProtected, name) {
		return false
	}
	if add {
		return !listed(o.HeaderForbidAdd, name)
	}
	return !undeletable[strings.ToLower(name)] && !listed(o.HeaderForbidDelete, name)
}

func (in *interp) addHeader(c *cargs) error {
	name := in.str(&c.pos[0])
	val := in.str(&c.pos[1])
	if !validFieldName(name) {
		return in.errorf("addheader: specified field name '%s' is invalid", name)
	}
	if !in.mayEdit(name, true) {
		return nil
	}
	if len(name)+2+len(val) > in.lim.MaxHeaderSize {
		return in.errorf("addheader: the new header field exceeds the limit of %d bytes", in.lim.MaxHeaderSize)
	}
	val = foldValue(val)
	if !isASCII(val) {
		val = mime.QEncoding.Encode("utf-8", val)
	}
	if len(in.header) > 10000 {
		return in.errorf("addheader: too many header fields")
	}
	f := Field{Name: name, Value: " " + val}
	h := make([]Field, 0, len(in.header)+1)
	if c.tags["last"] != nil {
		h = append(append(h, in.header...), f)
	} else {
		h = append(append(h, f), in.header...)
	}
	in.header, in.edited, in.fields = h, true, nil
	return nil
}

// foldValue makes every line break a fold (CRLF then white space), so that a value with
// newlines stays one field; NULs and bare CRs are dropped.
func foldValue(v string) string {
	v = strings.ReplaceAll(v, "\x00", "")
	v = strings.ReplaceAll(v, "\r\n", "\n")
	v = strings.ReplaceAll(v, "\r", "")
	lines := strings.Split(strings.TrimRight(v, "\n"), "\n")
	var b strings.Builder
	for i, l := range lines {
		if i > 0 {
			b.WriteString("\r\n")
			if l == "" || l[0] != ' ' && l[0] != '\t' {
				b.WriteByte(' ')
			}
		}
		b.WriteString(l)
	}
	return b.String()
}

func headerSize(h []Field) int64 {
	var n int64
	for _, f := range h {
		n += int64(len(f.Name) + 1 + len(f.Value) + 2)
	}
	return n
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func (in *interp) deleteHeader(c *cargs) error {
	name := in.str(&c.pos[0])
	if !validFieldName(name) {
		return in.errorf("deleteheader: specified field name '%s' is invalid", name)
	}
	if !in.mayEdit(name, false) {
		return nil
	}
	var keys []string
	if len(c.pos) == 2 {
		keys = in.strs(&c.pos[1])
	}
	var idx []int
	for i, f := range in.header {
		if strings.EqualFold(f.Name, name) {
			idx = append(idx, i)
		}
	}
	if a := c.tags["index"]; a != nil {
		n := int(min(a.num, 1<<30))
		if c.tags["last"] != nil {
			n = len(idx) - n + 1
		}
		if n < 1 || n > len(idx) {
			return nil
		}
		idx = idx[n-1 : n]
	}
	drop := map[int]bool{}
	for _, i := range idx {
		if keys == nil {
			drop[i] = true
			continue
		}
		ok, err := in.matchWith(c, []string{decodeHeader(unfold(in.header[i].Value))}, keys)
		if err != nil {
			return err
		}
		if ok {
			drop[i] = true
		}
	}
	if len(drop) == 0 {
		return nil
	}
	h := make([]Field, 0, len(in.header))
	for i, f := range in.header {
		if !drop[i] {
			h = append(h, f)
		}
	}
	in.header, in.edited, in.fields = h, true, nil
	return nil
}
