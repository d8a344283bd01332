module github.com/mailscript/mailscript

go 1.26.8

require (
	github.com/mattn/go-isatty v0.0.24
	github.com/yuin/gopher-lua v1.1.2
	golang.org/x/text v0.43.0
	layeh.com/gopher-luar v1.0.11
)

require golang.org/x/sys v0.28.0 // indirect
