// Package imap is an IMAP4 client in plain Go whose methods mirror
// Python's imaplib: the same commands, arguments, states and results
// ((typ, data) as [Result]), plus every answer decoded into Go values.
//
// It speaks IMAP4rev1 (RFC 3501) and reads IMAP4rev2 (RFC 9051) replies,
// over plain TCP, implicit TLS, STARTTLS (RFC 2595) or a child process's
// standard input and output ([DialStream], imaplib's IMAP4_stream).
// Extensions covered: IDLE (RFC 2177), LITERAL+ and LITERAL- (RFC 7888),
// SASL-IR (RFC 4959), UIDPLUS (RFC 4315), MOVE (RFC 6851), ENABLE (RFC
// 5161), UTF8=ACCEPT (RFC 6855), ID (RFC 2971), NAMESPACE (RFC 2342),
// QUOTA (RFC 2087/9208), ACL (RFC 4314), SORT and THREAD (RFC 5256),
// ESEARCH (RFC 4731), CONDSTORE MODSEQ (RFC 7162), BINARY (RFC 3516),
// SPECIAL-USE (RFC 6154), and the obsolete PARTIAL, PROXYAUTH and
// ANNOTATEMORE commands imaplib keeps.
//
// Safety: no argument can carry NUL, CR or LF into the command line; a
// line over [DefaultMaxLine] bytes, a literal over the configured cap and
// nesting deeper than the configured depth are errors, checked before
// anything is allocated; malformed input is a [ParseError] quoting the
// line. Every amount a server controls has a budget in [Options]
// (MaxResponse, MaxUntagged, MaxKept, MaxItems, MaxExpand, MaxIdleQueue):
// going past one is an abort wrapping a [*LimitError].
//
// Errors are [*Error] with imaplib's classes (error, abort, readonly) as
// [Kind], for [errors.As] and [errors.Is]. A server's NO or BAD carries
// its reply in Type, Code and Text; where imaplib returns a NO as data,
// [Result.Err] gives it as an [*Error]. Malformed server input is an
// abort wrapping a [*ParseError], which quotes the line with %q.
//
// Goroutines: a [Client] is used by one goroutine at a time, the
// caller's. That goroutine writes each command and reads every response,
// dispatching it to the command it belongs to or to imaplib's store;
// there is no background reader. The one exception is a pipelined
// [Client.Execute] of several commands: a writer goroutine sends them
// while the caller's goroutine reads, so neither side's buffers can fill
// and deadlock; whichever side fails first sets the other's deadline in
// the past, so the writer is woken when the reader fails and the reader
// when the writer fails, and Execute returns only after both stopped.
// How each literal goes (LITERAL+ or waiting for "+") is decided before
// the writer starts, so it never reads; every "+" (a literal's,
// AUTHENTICATE's, IDLE's) goes to the oldest of one queue of waits, all
// on the caller's goroutine.
// Capabilities and state are behind a mutex: [Client.State],
// [Client.Capabilities] and [Client.HasCap] are safe from any goroutine.
// A context passed to a call may be canceled from any goroutine: it
// interrupts the blocked read or write at once, the call returns an
// abort with Cause timeout, and the connection is closed (a command cut
// mid-way leaves the stream unusable). [Client.Close] may likewise be
// called from any goroutine, also while another is inside a command or
// an IDLE: it closes the transport, and that call returns an abort
// ("connection closed"); only the caller's goroutine records the
// failure. An [Idler] belongs to the goroutine that started it, like
// the client.
//
// Beside the imaplib mirror, a typed layer: [StoreFlags], [CopyTo],
// [MoveTo], [FetchItems], [Search], [SearchCriteria], [ListMailboxes] and
// [ListNamespaces] build a [Command] over a typed set ([SeqSet] or
// [UIDSet], [Star] for "*") and typed flags ([Flag]);
// [Client.SendCommand] sends it without waiting, [Command.Wait] reads it
// home (NO and BAD as [*Error]), and [Command.Messages],
// [Command.Numbers], [Command.Mailboxes] and [Command.Namespaces] decode
// its reply. An [Command.OnUntagged] callback decodes each response as it
// comes with [Response.Fetch], [Response.FetchLazy],
// [Response.SearchNumbers], [Response.ESearch] and [Response.StatusData].
//
// [Client.Execute] pipelines: several commands go out before their
// completions are read, so a batch costs one round trip.
package imap
