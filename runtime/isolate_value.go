package runtime

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"unicode"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/bindings"
	"github.com/mailscript/mailscript/internal/limit"
)

// wireVal is a Lua value crossing between an isolated child and its
// parent: plain data only (nil, booleans, numbers, strings and tables of
// them), or, in a host module's table, a function the child calls back.
type wireVal struct {
	Kind string    `json:"k"`            // see the wire* kinds
	Bool bool      `json:"b,omitempty"`  // wireBool
	Num  string    `json:"n,omitempty"`  // wireNum, as strconv 'g': keeps NaN, ±Inf and -0
	Str  []byte    `json:"s,omitempty"`  // wireStr: bytes, not UTF-8
	Keys []wireVal `json:"ks,omitempty"` // wireTable: keys and values in pairs order
	Vals []wireVal `json:"vs,omitempty"`
	Path []string  `json:"p,omitempty"` // wireFunc: its keys in the module table
}

const (
	wireNil   = "0"
	wireBool  = "b"
	wireNum   = "n"
	wireStr   = "s"
	wireTable = "t"
	wireFunc  = "f"
)

// Caps on what one crossing carries (a call's arguments, its results, a
// module table, an exposed value): below the frame size the parent reads.
const (
	maxCrossDepth = 64
	maxCrossBytes = 4 << 20 // string bytes, and crossItemCost a value
	crossItemCost = 24
)

// crossError is what cannot cross; the message says what and where.
type crossError struct{ msg string }

func (e *crossError) Error() string { return e.msg }

// crossBudget is what is left of one crossing's size.
type crossBudget struct{ left int }

func newCrossBudget() *crossBudget { return &crossBudget{left: maxCrossBytes} }

func (b *crossBudget) take(n int, what string) error {
	if b.left -= n; b.left < 0 {
		return &crossError{what + " is larger than the " + limit.Bytes(maxCrossBytes) + " that can cross to or from an isolated script"}
	}
	return nil
}

// luaEncoder turns Lua values into wireVals; fn, if set, is told of
// each function met (a host module's), which then crosses as its path.
type luaEncoder struct {
	budget *crossBudget
	fn     func(path []string, f *lua.LFunction)
	seen   map[*lua.LTable]bool // the tables being encoded: a cycle
}

func (e *luaEncoder) encode(v lua.LValue, what string, path []string, depth int) (wireVal, error) {
	if err := e.budget.take(crossItemCost, what); err != nil {
		return wireVal{}, err
	}
	switch x := v.(type) {
	case *lua.LNilType:
		return wireVal{Kind: wireNil}, nil
	case lua.LBool:
		return wireVal{Kind: wireBool, Bool: bool(x)}, nil
	case lua.LNumber:
		return wireVal{Kind: wireNum, Num: strconv.FormatFloat(float64(x), 'g', -1, 64)}, nil
	case lua.LString:
		if err := e.budget.take(len(x), what); err != nil {
			return wireVal{}, err
		}
		return wireVal{Kind: wireStr, Str: []byte(x)}, nil
	case *lua.LFunction:
		if e.fn == nil {
			return wireVal{}, &crossError{what + " is a function, which cannot cross to or from an isolated script"}
		}
		e.fn(path, x)
		return wireVal{Kind: wireFunc, Path: append([]string{}, path...)}, nil
	case *lua.LTable:
		if depth >= maxCrossDepth {
			return wireVal{}, &crossError{fmt.Sprintf("%s nests tables deeper than %d levels, which cannot cross to or from an isolated script", what, maxCrossDepth)}
		}
		if e.seen[x] {
			return wireVal{}, &crossError{what + " is a table that contains itself, which cannot cross to or from an isolated script"}
		}
		if e.seen == nil {
			e.seen = map[*lua.LTable]bool{}
		}
		e.seen[x] = true
		defer delete(e.seen, x)
		w := wireVal{Kind: wireTable}
		var err error
		x.ForEach(func(k, val lua.LValue) {
			if err != nil {
				return
			}
			var kw, vw wireVal
			switch k.(type) {
			case lua.LBool, lua.LNumber, lua.LString:
				kw, err = e.encode(k, what, nil, depth+1)
			default:
				err = &crossError{what + " has a " + k.Type().String() + " key; only boolean, number and string keys cross to or from an isolated script"}
			}
			if err != nil {
				return
			}
			sub := e
			if s, ok := k.(lua.LString); ok && e.fn != nil {
				vw, err = e.encode(val, what, append(path[:len(path):len(path)], string(s)), depth+1)
			} else {
				if e.fn != nil { // a function's path is its string keys
					sub = &luaEncoder{budget: e.budget, seen: e.seen}
				}
				vw, err = sub.encode(val, what, nil, depth+1)
			}
			if err == nil {
				w.Keys = append(w.Keys, kw)
				w.Vals = append(w.Vals, vw)
			}
		})
		return w, err
	case *lua.LUserData:
		if _, ok := x.Value.(*bindings.Secret); ok {
			return wireVal{}, &crossError{what + " is a secret, which never crosses to or from an isolated script (run the script in process to hand it secrets)"}
		}
		return wireVal{}, &crossError{what + " is a userdata, which cannot cross to or from an isolated script"}
	}
	return wireVal{}, &crossError{what + " is a " + v.Type().String() + ", which cannot cross to or from an isolated script"}
}

// luaDecoder builds Lua values from wireVals the other side sent, which
// it checks as it goes; fn makes the value of a wireFunc (nil: refused).
type luaDecoder struct {
	L      *lua.LState // makes the tables
	fn     func(path []string) lua.LValue
	budget *crossBudget // if set, caps what is built
}

var errBadValue = errors.New("isolate: malformed value from the other side")

func (d *luaDecoder) decode(w wireVal, depth int) (lua.LValue, error) {
	if d.budget != nil {
		if err := d.budget.take(crossItemCost+len(w.Str), "a value"); err != nil {
			return nil, err
		}
	}
	switch w.Kind {
	case wireNil:
		return lua.LNil, nil
	case wireBool:
		return lua.LBool(w.Bool), nil
	case wireNum:
		f, err := strconv.ParseFloat(w.Num, 64)
		if err != nil {
			return nil, errBadValue
		}
		return lua.LNumber(f), nil
	case wireStr:
		return lua.LString(w.Str), nil
	case wireFunc:
		if d.fn == nil {
			return nil, errBadValue
		}
		return d.fn(w.Path), nil
	case wireTable:
		if depth > maxCrossDepth || len(w.Keys) != len(w.Vals) {
			return nil, errBadValue
		}
		t := d.L.NewTable()
		for i, kw := range w.Keys {
			switch kw.Kind {
			case wireBool, wireNum, wireStr:
			default:
				return nil, errBadValue
			}
			k, err := d.decode(kw, depth+1)
			if err != nil {
				return nil, err
			}
			if n, ok := k.(lua.LNumber); ok && math.IsNaN(float64(n)) {
				return nil, errBadValue
			}
			v, err := d.decode(w.Vals[i], depth+1)
			if err != nil {
				return nil, err
			}
			t.RawSet(k, v)
		}
		return t, nil
	}
	return nil, errBadValue
}

// encodeGo turns an exposed Go value into a wireVal when it is plain
// data: booleans, numbers, strings, slices and arrays, maps with string
// keys, pointers to them and structs' exported fields (named as
// gopher-luar names them: the field's name and its lower-case-first
// form, or its `luar` tag). A value of a type with methods, a func, a
// channel or a cycle is refused.
func encodeGo(v reflect.Value, what string, b *crossBudget, depth int) (wireVal, error) {
	if err := b.take(crossItemCost, what); err != nil {
		return wireVal{}, err
	}
	if depth >= maxCrossDepth {
		return wireVal{}, &crossError{fmt.Sprintf("%s nests deeper than %d levels (or holds a cycle)", what, maxCrossDepth)}
	}
	if !v.IsValid() {
		return wireVal{Kind: wireNil}, nil
	}
	t := v.Type()
	if t.Kind() != reflect.Interface && (t.NumMethod() > 0 || t.Kind() != reflect.Pointer && reflect.PointerTo(t).NumMethod() > 0) {
		return wireVal{}, &crossError{what + " is a " + t.String() + ", which has methods a script could call"}
	}
	num := func(f float64) (wireVal, error) {
		return wireVal{Kind: wireNum, Num: strconv.FormatFloat(f, 'g', -1, 64)}, nil
	}
	switch t.Kind() {
	case reflect.Bool:
		return wireVal{Kind: wireBool, Bool: v.Bool()}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return num(float64(v.Int()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return num(float64(v.Uint()))
	case reflect.Float32, reflect.Float64:
		return num(v.Float())
	case reflect.String:
		if err := b.take(v.Len(), what); err != nil {
			return wireVal{}, err
		}
		return wireVal{Kind: wireStr, Str: []byte(v.String())}, nil
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return wireVal{Kind: wireNil}, nil
		}
		return encodeGo(v.Elem(), what, b, depth+1)
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice && v.IsNil() {
			return wireVal{Kind: wireNil}, nil
		}
		w := wireVal{Kind: wireTable}
		for i := 0; i < v.Len(); i++ {
			e, err := encodeGo(v.Index(i), what, b, depth+1)
			if err != nil {
				return wireVal{}, err
			}
			k, _ := num(float64(i + 1))
			w.Keys, w.Vals = append(w.Keys, k), append(w.Vals, e)
		}
		return w, nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return wireVal{}, &crossError{what + " is a map with " + t.Key().String() + " keys; only string keys cross"}
		}
		if v.IsNil() {
			return wireVal{Kind: wireNil}, nil
		}
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		w := wireVal{Kind: wireTable}
		for _, k := range keys {
			e, err := encodeGo(v.MapIndex(k), what, b, depth+1)
			if err != nil {
				return wireVal{}, err
			}
			if err := b.take(k.Len(), what); err != nil {
				return wireVal{}, err
			}
			w.Keys, w.Vals = append(w.Keys, wireVal{Kind: wireStr, Str: []byte(k.String())}), append(w.Vals, e)
		}
		return w, nil
	case reflect.Struct:
		w := wireVal{Kind: wireTable}
		for _, f := range reflect.VisibleFields(t) {
			if !f.IsExported() {
				continue
			}
			names := luarNames(f)
			if len(names) == 0 {
				continue
			}
			fv, err := v.FieldByIndexErr(f.Index)
			if err != nil { // through a nil embedded pointer
				continue
			}
			e, err := encodeGo(fv, what+"."+f.Name, b, depth+1)
			if err != nil {
				return wireVal{}, err
			}
			for _, n := range names {
				w.Keys, w.Vals = append(w.Keys, wireVal{Kind: wireStr, Str: []byte(n)}), append(w.Vals, e)
			}
		}
		return w, nil
	}
	return wireVal{}, &crossError{what + " is a " + t.String() + ", which is not plain data"}
}

// luarNames are the names gopher-luar gives a struct field by default.
func luarNames(f reflect.StructField) []string {
	switch tag := f.Tag.Get("luar"); tag {
	case "-":
		return nil
	case "":
	default:
		return []string{tag}
	}
	r, n := utf8.DecodeRuneInString(f.Name)
	if low := string(unicode.ToLower(r)) + f.Name[n:]; low != f.Name {
		return []string{f.Name, low}
	}
	return []string{f.Name}
}
