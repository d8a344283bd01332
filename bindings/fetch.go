package bindings

import (
	"strconv"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/protocol/imap"
)

// fetchList builds the parsed FETCH records once, from the Go values.
func fetchList(L *lua.LState, msgs []*imap.FetchMessage) *lua.LTable {
	var size int64
	for _, m := range msgs {
		size += bytesSize(m.Body) + bytesSize(m.Binary) + int64(len(m.RFC822)+len(m.RFC822Header)+len(m.RFC822Text))
	}
	charge(L, size) // the bodies are copied into Lua strings
	t := L.CreateTable(len(msgs), 0)
	for _, m := range msgs {
		r := L.CreateTable(0, 8)
		r.RawSetString("seq", lua.LNumber(m.Seq))
		if m.UID != 0 {
			r.RawSetString("uid", lua.LNumber(m.UID))
		}
		if m.HasFlags {
			r.RawSetString("flags", strList(m.Flags))
		}
		if m.InternalDate != "" {
			r.RawSetString("internaldate", lua.LString(m.InternalDate))
			if !m.InternalTime.IsZero() {
				r.RawSetString("internaldate_time", lua.LNumber(m.InternalTime.Unix()))
			}
		}
		if m.Size >= 0 {
			r.RawSetString("size", lua.LNumber(m.Size))
		}
		if m.ModSeq != 0 {
			r.RawSetString("modseq", lua.LString(strconv.FormatUint(m.ModSeq, 10)))
		}
		if m.Envelope != nil {
			r.RawSetString("envelope", envelopeTable(L, m.Envelope))
		}
		if m.BodyStructure != nil {
			r.RawSetString("bodystructure", BodyTable(L, m.BodyStructure))
		}
		for name, sections := range map[string]map[string][]byte{"body": m.Body, "binary": m.Binary} {
			if sections != nil {
				b := L.CreateTable(0, len(sections))
				for k, v := range sections {
					b.RawSetString(k, lua.LString(v))
				}
				r.RawSetString(name, b)
			}
		}
		for name, v := range map[string][]byte{"rfc822": m.RFC822, "rfc822_header": m.RFC822Header, "rfc822_text": m.RFC822Text} {
			if v != nil {
				r.RawSetString(name, lua.LString(v))
			}
		}
		t.Append(r)
	}
	return t
}

func addrList(L *lua.LState, as []imap.Address) *lua.LTable {
	t := L.CreateTable(len(as), 0)
	for _, a := range as {
		x := L.CreateTable(0, 4)
		x.RawSetString("name", nstr(a.Name, a.NameNil))
		x.RawSetString("mailbox", nstr(a.Mailbox, a.MailboxNil))
		x.RawSetString("host", nstr(a.Host, a.HostNil))
		x.RawSetString("address", lua.LString(a.Address))
		t.Append(x)
	}
	return t
}

// nstr is an IMAP nstring for Lua: NIL is nil, "" stays "".
func nstr(s string, isNil bool) lua.LValue {
	if isNil {
		return lua.LNil
	}
	return lua.LString(s)
}

func envelopeTable(L *lua.LState, e *imap.Envelope) *lua.LTable {
	t := L.CreateTable(0, 10)
	t.RawSetString("date", nstr(e.Date, e.DateNil))
	t.RawSetString("subject", nstr(e.Subject, e.SubjectNil))
	t.RawSetString("in_reply_to", nstr(e.InReplyTo, e.InReplyToNil))
	t.RawSetString("message_id", nstr(e.MessageID, e.MessageIDNil))
	for k, v := range map[string][]imap.Address{"from": e.From, "sender": e.Sender, "reply_to": e.ReplyTo, "to": e.To, "cc": e.Cc, "bcc": e.Bcc} {
		t.RawSetString(k, addrList(L, v))
	}
	return t
}

func paramTable(L *lua.LState, p map[string]string) *lua.LTable {
	t := L.CreateTable(0, len(p))
	for k, v := range p {
		t.RawSetString(k, lua.LString(v))
	}
	return t
}

// BodyTable is a BODYSTRUCTURE node as the Lua table scripts see.
func BodyTable(L *lua.LState, b *imap.BodyStructure) *lua.LTable {
	t := L.NewTable()
	t.RawSetString("type", lua.LString(b.Type))
	t.RawSetString("subtype", lua.LString(b.Subtype))
	t.RawSetString("params", paramTable(L, b.Params))
	t.RawSetString("part", lua.LString(b.Part))
	for k, v := range map[string]string{"id": b.ID, "description": b.Description, "encoding": b.Encoding, "md5": b.MD5, "location": b.Location} {
		if v != "" {
			t.RawSetString(k, lua.LString(v))
		}
	}
	if b.Parts == nil {
		t.RawSetString("size", lua.LNumber(b.Size))
	}
	if b.Lines > 0 || b.Type == "text" {
		t.RawSetString("lines", lua.LNumber(b.Lines))
	}
	if b.Disposition != nil {
		d := L.NewTable()
		d.RawSetString("type", lua.LString(b.Disposition.Type))
		d.RawSetString("params", paramTable(L, b.Disposition.Params))
		t.RawSetString("disposition", d)
	}
	if b.Language != nil {
		t.RawSetString("language", strList(b.Language))
	}
	if b.Parts != nil {
		parts := L.CreateTable(len(b.Parts), 0)
		for _, p := range b.Parts {
			parts.Append(BodyTable(L, p))
		}
		t.RawSetString("parts", parts)
	}
	if b.Envelope != nil {
		t.RawSetString("envelope", envelopeTable(L, b.Envelope))
	}
	if b.Body != nil {
		t.RawSetString("body", BodyTable(L, b.Body))
	}
	return t
}
