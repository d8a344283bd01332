package bindings

import "strings"

// TLSHint is what to do about a certificate that does not verify: an
// unknown issuer (a self-signed or private-CA server), a name that does
// not match, an expired certificate; "" for any other failure. A pinned
// certificate that changed says so itself (trust.MismatchError).
func TLSHint(msg string) string {
	if !strings.Contains(msg, "x509:") && !strings.Contains(msg, "certificate") {
		return ""
	}
	const pin = "or check its fingerprint and pin it with mailscript trust HOST[:PORT] --pin"
	for _, s := range []string{"unknown authority", "not trusted", "self-signed", "self signed"} {
		if strings.Contains(msg, s) {
			return "a self-signed or private-CA server: trust its CA with ssl_context = {ca_file = \"ca.pem\"} (or ca_pem), SSL_CERT_FILE=ca.pem, or mailscript --ca ca.pem; " + pin
		}
	}
	if strings.Contains(msg, "certificate is valid for") || strings.Contains(msg, "doesn't contain any IP SANs") {
		return "the certificate is for another name: connect with a name it lists (mailscript trust HOST shows them), or set ssl_context = {server_name = \"NAME\"}; " + pin
	}
	if strings.Contains(msg, "expired or is not yet valid") {
		return "the certificate has expired (or is not yet valid): tell the server's admin; mailscript trust HOST shows its dates; " + pin
	}
	return ""
}

// withTLSHint adds [TLSHint] to an error's text, once.
func withTLSHint(text string) string {
	if h := TLSHint(text); h != "" && !strings.Contains(text, "ssl_context") && !strings.Contains(text, "mailscript trust") {
		return text + " (" + h + ")"
	}
	return text
}
