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
// line. Errors are [*Error] with imaplib's classes (error, abort,
// readonly) as [Kind].
//
// [Client.Execute] pipelines: several commands go out before their
// completions are read, so a batch costs one round trip.
package imap
