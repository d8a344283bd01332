package runtime

import "strings"

// eofLine gives a compile error at the end of the file (an unclosed
// block or string, which the parser reports without a line) the file's
// last line, and says what is likely missing. The message keeps "EOF",
// which [Incomplete] looks for.
func eofLine(se *ScriptError, src string) *ScriptError {
	if se.Line != 0 || !strings.Contains(se.Message, "at EOF") {
		return se
	}
	se.Line = strings.Count(strings.TrimRight(src, "\n"), "\n") + 1
	_, what, _ := strings.Cut(se.Message, "at EOF:")
	what = strings.TrimSpace(what)
	switch what {
	case "syntax error":
		se.Message = "syntax error at EOF: the file ends inside a block or bracket (an if, for, while, function or do without its end, or a ( { [ not closed)"
	default:
		se.Message = what + " at EOF: the file ends inside it"
	}
	return se
}
