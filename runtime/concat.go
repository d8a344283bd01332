package runtime

import (
	"crypto/rand"
	"encoding/hex"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/ast"
)

// The VM's own concatenation allocates in Go without asking anyone: a
// doubling loop outruns the memory watchdog's samples. Under a memory
// budget, Compile turns every a .. b .. c into a call of budgetedConcat,
// which charges the result before joining. The callee is a constant of
// the chunk (a string marker in the AST, swapped for the function after
// compiling), so no global names it and no script can replace it.

// concatCharge is the least result charged: smaller strings are left to
// the watchdog, like the tables a script builds, so short concatenations
// do not pay for a context lookup.
const concatCharge = 1 << 10

// budgetedConcat is the .. of budgeted chunks.
var budgetedConcat = &lua.LFunction{IsG: true, GFunction: concatValues}

// concatMarker is a string no script can guess, to stand for
// budgetedConcat among a chunk's constants.
func concatMarker() string {
	var b [16]byte
	rand.Read(b[:])
	return "\x00mailscript.concat." + hex.EncodeToString(b[:])
}

// concatValues is Lua 5.1's concatenation of its arguments: right to
// left, a run of strings and numbers joined at once, __concat for the
// others; the same errors as the VM's.
func concatValues(L *lua.LState) int {
	n := L.GetTop()
	rhs := L.Get(n)
	for i := n - 1; i >= 1; {
		lhs := L.Get(i)
		if !lua.LVCanConvToString(lhs) || !lua.LVCanConvToString(rhs) {
			op := L.GetMetaField(lhs, "__concat")
			if op.Type() != lua.LTFunction {
				op = L.GetMetaField(rhs, "__concat")
			}
			if op.Type() != lua.LTFunction {
				L.RaiseError("cannot perform concat operation between %v and %v", lhs.Type().String(), rhs.Type().String())
			}
			L.Push(op)
			L.Push(lhs)
			L.Push(rhs)
			L.Call(2, 1)
			rhs = L.Get(-1)
			L.Pop(1)
			i--
			continue
		}
		j := i
		for j > 1 && lua.LVCanConvToString(L.Get(j-1)) {
			j--
		}
		last := lua.LVAsString(rhs)
		size := int64(len(last))
		for k := j; k <= i; k++ {
			size += int64(len(lua.LVAsString(L.Get(k))))
		}
		if size >= concatCharge {
			charge(L, size)
		}
		var b strings.Builder
		b.Grow(int(size))
		for k := j; k <= i; k++ {
			b.WriteString(lua.LVAsString(L.Get(k)))
		}
		b.WriteString(last)
		rhs = lua.LString(b.String())
		i = j - 1
	}
	L.Push(rhs)
	return 1
}

// bindConcat puts budgetedConcat where p and its nested functions hold
// the marker constant.
func bindConcat(p *lua.FunctionProto, marker string) {
	for i, c := range p.Constants {
		if s, ok := c.(lua.LString); ok && string(s) == marker {
			p.Constants[i] = budgetedConcat
		}
	}
	for _, sub := range p.FunctionPrototypes {
		bindConcat(sub, marker)
	}
}

// concatRewriter turns the .. of a chunk's AST into calls of the marker.
type concatRewriter struct{ marker string }

func (r concatRewriter) stmts(list []ast.Stmt) {
	for _, s := range list {
		r.stmt(s)
	}
}

func (r concatRewriter) exprs(list []ast.Expr) {
	for i, e := range list {
		list[i] = r.expr(e)
	}
}

func (r concatRewriter) stmt(s ast.Stmt) {
	switch s := s.(type) {
	case *ast.AssignStmt:
		r.exprs(s.Lhs)
		r.exprs(s.Rhs)
	case *ast.LocalAssignStmt:
		r.exprs(s.Exprs)
	case *ast.FuncCallStmt:
		s.Expr = r.expr(s.Expr)
	case *ast.DoBlockStmt:
		r.stmts(s.Stmts)
	case *ast.WhileStmt:
		s.Condition = r.expr(s.Condition)
		r.stmts(s.Stmts)
	case *ast.RepeatStmt:
		s.Condition = r.expr(s.Condition)
		r.stmts(s.Stmts)
	case *ast.IfStmt:
		s.Condition = r.expr(s.Condition)
		r.stmts(s.Then)
		r.stmts(s.Else)
	case *ast.NumberForStmt:
		s.Init, s.Limit = r.expr(s.Init), r.expr(s.Limit)
		if s.Step != nil {
			s.Step = r.expr(s.Step)
		}
		r.stmts(s.Stmts)
	case *ast.GenericForStmt:
		r.exprs(s.Exprs)
		r.stmts(s.Stmts)
	case *ast.FuncDefStmt:
		if s.Name != nil {
			if s.Name.Func != nil {
				s.Name.Func = r.expr(s.Name.Func)
			}
			if s.Name.Receiver != nil {
				s.Name.Receiver = r.expr(s.Name.Receiver)
			}
		}
		r.stmts(s.Func.Stmts)
	case *ast.ReturnStmt:
		r.exprs(s.Exprs)
	}
}

func (r concatRewriter) expr(e ast.Expr) ast.Expr {
	switch e := e.(type) {
	case *ast.StringConcatOpExpr:
		// a .. (b .. c): one call of all the chain's terms, as the VM's
		// one CONCAT instruction; each term gives one value
		var args []ast.Expr
		var cur ast.Expr = e
		for {
			c, ok := cur.(*ast.StringConcatOpExpr)
			if !ok {
				break
			}
			args = append(args, c.Lhs)
			cur = c.Rhs
		}
		args = append(args, cur)
		for i, a := range args {
			args[i] = r.expr(a)
			switch a := args[i].(type) {
			case *ast.FuncCallExpr:
				a.AdjustRet = true
			case *ast.Comma3Expr:
				a.AdjustRet = true
			}
		}
		fn := &ast.StringExpr{Value: r.marker}
		fn.SetLine(e.Line())
		fn.SetLastLine(e.LastLine())
		call := &ast.FuncCallExpr{Func: fn, Args: args}
		call.SetLine(e.Line())
		call.SetLastLine(e.LastLine())
		return call
	case *ast.AttrGetExpr:
		e.Object, e.Key = r.expr(e.Object), r.expr(e.Key)
	case *ast.TableExpr:
		for _, f := range e.Fields {
			if f.Key != nil {
				f.Key = r.expr(f.Key)
			}
			f.Value = r.expr(f.Value)
		}
	case *ast.FuncCallExpr:
		if e.Func != nil {
			e.Func = r.expr(e.Func)
		}
		if e.Receiver != nil {
			e.Receiver = r.expr(e.Receiver)
		}
		r.exprs(e.Args)
	case *ast.LogicalOpExpr:
		e.Lhs, e.Rhs = r.expr(e.Lhs), r.expr(e.Rhs)
	case *ast.RelationalOpExpr:
		e.Lhs, e.Rhs = r.expr(e.Lhs), r.expr(e.Rhs)
	case *ast.ArithmeticOpExpr:
		e.Lhs, e.Rhs = r.expr(e.Lhs), r.expr(e.Rhs)
	case *ast.UnaryMinusOpExpr:
		e.Expr = r.expr(e.Expr)
	case *ast.UnaryNotOpExpr:
		e.Expr = r.expr(e.Expr)
	case *ast.UnaryLenOpExpr:
		e.Expr = r.expr(e.Expr)
	case *ast.FunctionExpr:
		r.stmts(e.Stmts)
	}
	return e
}
