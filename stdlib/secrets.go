package stdlib

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"
)

// netrcPassword finds the password for host (and user, when given) in
// $NETRC or ~/.netrc, as ftp and curl read it.
func netrcPassword(host, user string) (string, error) {
	path := os.Getenv("NETRC")
	if path == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		path = filepath.Join(home, ".netrc")
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var words []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			continue
		}
		words = append(words, strings.Fields(line)...)
	}
	var machine, login, password string
	match := func() bool {
		return (machine == host || machine == "\x00default") && (user == "" || login == "" || login == user) && password != ""
	}
	for i := 0; i < len(words); i++ {
		next := func() string {
			if i+1 < len(words) {
				i++
				return words[i]
			}
			return ""
		}
		switch words[i] {
		case "machine", "default":
			if match() {
				return password, nil
			}
			machine, login, password = "\x00default", "", ""
			if words[i] == "machine" {
				machine = next()
			}
		case "login":
			login = next()
		case "password":
			password = next()
		}
	}
	if match() {
		return password, nil
	}
	return "", fmt.Errorf("no entry for %s in %s", host, path)
}

// promptPassword asks on the terminal, without echo.
func promptPassword(label string) (string, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return "", errors.New("no terminal to ask on")
	}
	defer tty.Close()
	if label == "" {
		label = "Password"
	}
	fmt.Fprintf(tty, "%s: ", label)
	pw, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	return string(pw), err
}
