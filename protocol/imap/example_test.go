package imap_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/mailscript/mailscript/protocol/imap"
)

// scripted runs a tiny server answering each command from replies, by
// the command's name.
func scripted(replies map[string]string) string {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() {
		c, _ := l.Accept()
		defer l.Close()
		defer c.Close()
		fmt.Fprint(c, "* OK [CAPABILITY IMAP4rev1 IDLE] ready\r\n")
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			f := strings.Fields(line)
			tag, name := f[0], f[1]
			if name == "UID" {
				name += " " + f[2]
			}
			fmt.Fprint(c, replies[name]+tag+" OK done\r\n")
		}
	}()
	return l.Addr().String()
}

func Example() {
	addr := scripted(map[string]string{
		"SELECT": "* 2 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n",
		"SEARCH": "* SEARCH 1 2\r\n",
		"FETCH":  "* 1 FETCH (UID 10 FLAGS (\\Seen) BODY[HEADER.FIELDS (SUBJECT)] {15}\r\nSubject: hi\r\n\r\n)\r\n",
		"LOGOUT": "* BYE bye\r\n",
	})
	ctx := context.Background()
	c, err := imap.Dial(ctx, addr, nil)
	if err != nil {
		panic(err)
	}
	c.Login(ctx, "me", "secret")
	_, st, _ := c.Select(ctx, "INBOX", false)
	fmt.Println("exists:", st.Exists, "uidvalidity:", st.UIDValidity)
	res, hits, _ := c.Search(ctx, "", []string{"UNSEEN"}, false)
	fmt.Printf("typ %s data %q hits %v\n", res.Type, res.Data[0].Text, hits)
	_, msgs, _ := c.Fetch(ctx, "1", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])", false)
	fmt.Printf("uid %d flags %v subject %q\n", msgs[0].UID, msgs[0].Flags, msgs[0].Body["HEADER.FIELDS (SUBJECT)"])
	fmt.Println(c.Logout(ctx).Type)
	// Output:
	// exists: 2 uidvalidity: 7
	// typ OK data "1 2" hits [1 2]
	// uid 10 flags [\Seen] subject "Subject: hi\r\n\r\n"
	// BYE
}

func ExampleClient_Execute() {
	addr := scripted(map[string]string{
		"UID FETCH": "* 1 FETCH (UID 5 FLAGS ())\r\n",
	})
	ctx := context.Background()
	c, _ := imap.Dial(ctx, addr, nil)
	defer c.Close()
	c.Login(ctx, "me", "secret")
	c.Select(ctx, "INBOX", false)
	// three commands, one round trip
	var cmds []*imap.Command
	for _, set := range []string{"1:100", "101:200", "201:300"} {
		cmds = append(cmds, &imap.Command{Name: "UID FETCH", Args: []imap.Arg{imap.Set(set), imap.Raw("(FLAGS)")}})
	}
	if err := c.Execute(ctx, cmds...); err != nil {
		panic(err)
	}
	for _, cmd := range cmds {
		fmt.Println(cmd.Status.Type, len(cmd.Untagged))
	}
	// Output:
	// OK 1
	// OK 1
	// OK 1
}

func ExampleClient_Idle() {
	addr := scripted(map[string]string{
		"IDLE": "+ idling\r\n* 3 EXISTS\r\n",
	})
	ctx := context.Background()
	c, _ := imap.Dial(ctx, addr, nil)
	defer c.Close()
	c.Login(ctx, "me", "secret")
	c.Select(ctx, "INBOX", false)
	idler, _ := c.Idle(ctx, 0)
	r, _ := idler.Next(ctx)
	fmt.Println(r.Type, r.Num)
	// Output:
	// EXISTS 3
}
