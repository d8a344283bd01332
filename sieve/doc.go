// Package sieve compiles and runs Sieve mail filtering scripts (RFC 5228) against one message,
// producing the list of actions the script performs. It knows no IMAP: a caller gives it a
// [Message] and applies the [Result].
//
// Extensions: fileinto, copy (RFC 3894), envelope, encoded-character, imap4flags (RFC 5232),
// variables (RFC 5229), relational (RFC 5231), comparator-i;ascii-numeric (RFC 4790),
// subaddress (RFC 5233), regex (draft-ietf-sieve-regex, with RE2 syntax), body (RFC 5173),
// date (RFC 5260), index (RFC 5260), mailbox (RFC 5490), special-use (RFC 8579), spamtest,
// spamtestplus and virustest (RFC 5235), environment (RFC 5183), include (RFC 6609), ihave
// (RFC 5463), duplicate (RFC 7352), editheader (RFC 5293), and, reported but never performed
// on stored mail (RFC 6785 §3.11), reject, ereject (RFC 5429), vacation (RFC 5230) and redirect.
package sieve
