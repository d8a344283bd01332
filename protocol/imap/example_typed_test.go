package imap_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/mailscript/mailscript/protocol/imap"
)

// Typed commands in flight together, each read home with Wait.
func ExampleClient_SendCommand() {
	addr := scripted(map[string]string{"SELECT": "* 3 EXISTS\r\n"})
	ctx := context.Background()
	c, err := imap.Dial(ctx, addr, nil)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	c.Login(ctx, "me", "secret")
	c.Select(ctx, "INBOX", false)
	seen := imap.StoreFlags(imap.UIDSet{{Lo: 4, Hi: 9}}, "+FLAGS.SILENT", imap.FlagSeen)
	move := imap.MoveTo(imap.UIDSet{{Lo: 4, Hi: 9}}, "Archive")
	for _, cmd := range []*imap.Command{seen, move} {
		if err := c.SendCommand(ctx, cmd); err != nil {
			panic(err)
		}
	}
	fmt.Println(seen.Name, seen.Wait(ctx))
	fmt.Println(move.Name, move.Wait(ctx))
	bad := imap.StoreFlags(imap.SeqSet{{Lo: 1, Hi: 1}}, "+FLAGS", `\Seen) (X`)
	var e *imap.Error
	fmt.Println(errors.As(c.SendCommand(ctx, bad), &e), e.Kind)
	// Output:
	// UID STORE <nil>
	// UID MOVE <nil>
	// true error
}
