package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// rawMain is the floor: it sends a workload's commands pipelined and
// drains the replies without parsing them. Run as `bench raw w1 PLAN` or
// `bench raw w2` with B_HOST, B_PORT, B_USER, B_PASSWORD set.
func rawMain(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: bench raw w1 PLAN | w2")
		return 2
	}
	c, err := net.Dial("tcp", net.JoinHostPort(os.Getenv("B_HOST"), os.Getenv("B_PORT")))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer c.Close()
	c.(*net.TCPConn).SetNoDelay(true)
	c.SetDeadline(time.Now().Add(30 * time.Minute))
	r := bufio.NewReaderSize(c, 64<<10)
	if _, err := r.ReadString('\n'); err != nil { // greeting
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// LOGIN alone: the login process hands over to the mail process after it
	fmt.Fprintf(c, "a LOGIN %s \"%s\"\r\n", os.Getenv("B_USER"), os.Getenv("B_PASSWORD"))
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if strings.HasPrefix(line, "a ") {
			if !strings.HasPrefix(line, "a OK") {
				fmt.Fprint(os.Stderr, line)
				return 1
			}
			break
		}
	}
	var cmds []string
	switch args[0] {
	case "w1":
		b, err := os.ReadFile(args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		var plan map[string]string
		json.Unmarshal(b, &plan)
		cmds = append(cmds, "b SELECT INBOX", "c UID SEARCH UNSEEN")
		// UID sets cut to about 8 KB per command line, as the library cuts
		// them (a line over Dovecot's 64 KB limit ends the connection)
		for i, set := range chunks(plan["unseen"]) {
			cmds = append(cmds, fmt.Sprintf("d%d UID FETCH %s (UID BODY.PEEK[HEADER.FIELDS (FROM SUBJECT LIST-ID DATE)])", i, set))
		}
		for i, set := range chunks(plan["vip"]) {
			cmds = append(cmds, fmt.Sprintf("e%d UID STORE %s +FLAGS.SILENT (\\Flagged)", i, set))
		}
		for i, f := range []string{"Lists", "Newsletters", "Receipts"} {
			for j, set := range chunks(plan[f]) {
				cmds = append(cmds, fmt.Sprintf("f%d.%d UID MOVE %s %s", i, j, set, f))
			}
		}
	case "w2":
		cmds = append(cmds, "b EXAMINE INBOX", "c UID FETCH 1:* (UID FLAGS ENVELOPE RFC822.SIZE)")
	case "w3":
		go io.WriteString(c, "b EXAMINE INBOX\r\nc UID FETCH 1:* (UID BODY.PEEK[])\r\nz LOGOUT\r\n")
		n, err := rawBodies(r, os.Getenv("B_OUT"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(n)
		return 0
	case "watch":
		if err := rawWatch(c, r); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	default:
		fmt.Fprintln(os.Stderr, "unknown workload", args[0])
		return 2
	}
	cmds = append(cmds, "z LOGOUT")
	go io.WriteString(c, strings.Join(cmds, "\r\n")+"\r\n")
	n, _ := io.Copy(io.Discard, r) // the server closes after LOGOUT
	fmt.Println(n, "bytes")
	return 0
}

// rawWatch is WL's floor: IDLE on INBOX; on each EXISTS, DONE, flag the
// new messages, print "HANDLED uid" for each, IDLE again. Until killed.
func rawWatch(c net.Conn, r *bufio.Reader) error {
	c.SetDeadline(time.Time{})
	until := func(tag string, each func(string)) error {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return err
			}
			if strings.HasPrefix(line, tag+" ") {
				if !strings.HasPrefix(line, tag+" OK") {
					return fmt.Errorf("%s", line)
				}
				return nil
			}
			each(line)
		}
	}
	var last uint64 // highest UID handled
	fmt.Fprintf(c, "s SELECT INBOX\r\n")
	if err := until("s", func(string) {}); err != nil {
		return err
	}
	for first := true; ; first = false {
		if !first { // what came before the first IDLE is handled at once
			if err := rawIdle(c, r, until); err != nil {
				return err
			}
		}
		fmt.Fprintf(c, "f UID FETCH %d:* (UID)\r\n", last+1)
		var uids []uint64
		if err := until("f", func(line string) {
			if i := strings.Index(line, "UID "); i >= 0 {
				f := strings.FieldsFunc(line[i+4:], func(r rune) bool { return r < '0' || r > '9' })
				if n, err := strconv.ParseUint(append(f, "")[0], 10, 32); err == nil && n > last {
					uids = append(uids, n)
				}
			}
		}); err != nil {
			return err
		}
		if len(uids) == 0 {
			continue
		}
		fmt.Fprintf(c, "t UID STORE %d:%d +FLAGS.SILENT (\\Flagged)\r\n", uids[0], uids[len(uids)-1])
		if err := until("t", func(string) {}); err != nil {
			return err
		}
		for _, u := range uids {
			fmt.Fprintf(os.Stderr, "HANDLED %d\n", u)
			last = max(last, u)
		}
	}
}

// rawIdle waits in IDLE for an EXISTS.
func rawIdle(c net.Conn, r *bufio.Reader, until func(string, func(string)) error) error {
	io.WriteString(c, "i IDLE\r\n")
	for news := false; !news; {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		news = strings.HasPrefix(line, "* ") && strings.HasSuffix(line, " EXISTS\r\n")
	}
	io.WriteString(c, "DONE\r\n")
	return until("i", func(string) {})
}

// chunks cuts a comma-separated UID set into sets of at most 8,000 bytes.
func chunks(set string) []string {
	var out []string
	for len(set) > 8000 {
		cut := strings.LastIndexByte(set[:8000], ',')
		out = append(out, set[:cut])
		set = set[cut+1:]
	}
	if set != "" {
		out = append(out, set)
	}
	return out
}

// rawBodies reads FETCH replies of (UID n BODY[] {size}) and writes each
// body to dir/cur/n.raw:2, as the W3 scripts do: the download floor. A
// goroutine writes the files while the next bodies are read, as the
// library's read-ahead does.
func rawBodies(r *bufio.Reader, dir string) (int, error) {
	type body struct {
		uid  string
		data []byte
	}
	q := make(chan body, 64)
	werr := make(chan error, 1)
	n := 0
	go func() {
		var err error
		for b := range q {
			if err == nil {
				err = os.WriteFile(filepath.Join(dir, "cur", b.uid+".raw:2,"), b.data, 0o600)
			}
		}
		werr <- err
	}()
	read := func() error {
		for {
			line, err := r.ReadSlice('\n')
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if !bytes.HasSuffix(line, []byte("}\r\n")) {
				continue
			}
			open := bytes.LastIndexByte(line, '{')
			if open < 0 {
				return fmt.Errorf("bad literal in %q", line)
			}
			size, err := strconv.Atoi(string(line[open+1 : len(line)-3]))
			if err != nil {
				return fmt.Errorf("bad literal in %q", line)
			}
			uid := ""
			if i := bytes.Index(line, []byte("UID ")); i >= 0 {
				uid = string(bytes.Fields(line[i+4:])[0])
			}
			data := make([]byte, size)
			if _, err := io.ReadFull(r, data); err != nil {
				return err
			}
			q <- body{uid, data}
			n++
		}
	}
	err := read()
	close(q)
	if e := <-werr; err == nil {
		err = e
	}
	return n, err
}

// delayProxy forwards to target, delaying every chunk by d in each
// direction (so a round trip costs 2d), order kept.
func delayProxy(target string, d time.Duration) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			c.(*net.TCPConn).SetNoDelay(true)
			s.(*net.TCPConn).SetNoDelay(true)
			go delayed(c, s, d)
			go delayed(s, c, d)
		}
	}()
	return l.Addr().String(), nil
}

type chunk struct {
	due  time.Time
	data []byte
}

func delayed(from, to net.Conn, d time.Duration) {
	q := make(chan chunk, 4096)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 32<<10)
			n, err := from.Read(buf)
			if n > 0 {
				q <- chunk{time.Now().Add(d), buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range q {
		time.Sleep(time.Until(c.due))
		if _, err := to.Write(c.data); err != nil {
			break
		}
	}
	to.(*net.TCPConn).CloseWrite()
	from.Close()
}
