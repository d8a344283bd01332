module github.com/mailscript/mailscript

go 1.26.8

require (
	github.com/yuin/gopher-lua v1.1.2
	golang.org/x/text v0.43.0
	layeh.com/gopher-luar v1.0.11
)
