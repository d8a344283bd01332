package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
)

// listFlag is a flag given once per value.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	if v == "" {
		return fmt.Errorf("empty value")
	}
	*l = append(*l, v)
	return nil
}

// sizeFlag is a byte count written as 256M, 1G, 64K, 1048576 (binary
// units; a trailing "B" or "iB" is allowed); -1 means none.
type sizeFlag int64

func (s *sizeFlag) String() string { return strconv.FormatInt(int64(*s), 10) }

func (s *sizeFlag) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*s = sizeFlag(n)
	return nil
}

func parseSize(v string) (int64, error) {
	num := strings.TrimSpace(v)
	if num == "-1" {
		return -1, nil
	}
	num = strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(num), "B"), "I")
	shift := 0
	if num != "" {
		switch num[len(num)-1] {
		case 'K':
			shift = 10
		case 'M':
			shift = 20
		case 'G':
			shift = 30
		}
		if shift > 0 {
			num = num[:len(num)-1]
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n < 0 || n > (1<<62)>>shift {
		return 0, fmt.Errorf("%q is not a size like 256M, 1G, 64K or a number of bytes", v)
	}
	return n << shift, nil
}

// scriptArgs checks what follows the script file: a flag of ours there
// would reach the script, not us (a --dry-run ignored, mail really
// moved), so it is refused; after "--" anything goes to the script.
func scriptArgs(fs *flag.FlagSet, rest []string) ([]string, error) {
	if len(rest) > 0 && rest[0] == "--" {
		return rest[1:], nil
	}
	for _, a := range rest {
		if a == "--" {
			break
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && name != "" && fs.Lookup(name) != nil {
			return nil, fmt.Errorf("%s comes after the script file, where it would go to the script: put it before the file (or write -- before the script's own arguments)", a)
		}
	}
	return rest, nil
}
