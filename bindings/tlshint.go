package bindings

import "strings"

// TLSHint is what to do about a certificate that does not verify
// because its issuer is unknown (a self-signed or private-CA server);
// "" for any other failure.
func TLSHint(msg string) string {
	if !strings.Contains(msg, "x509:") && !strings.Contains(msg, "certificate") {
		return ""
	}
	for _, s := range []string{"unknown authority", "not trusted", "self-signed", "self signed"} {
		if strings.Contains(msg, s) {
			return "a self-signed or private-CA server: trust its CA with ssl_context = {ca_file = \"ca.pem\"} (or ca_pem), SSL_CERT_FILE=ca.pem, or mailscript --ca ca.pem"
		}
	}
	return ""
}

// withTLSHint adds [TLSHint] to an error's text, once.
func withTLSHint(text string) string {
	if h := TLSHint(text); h != "" && !strings.Contains(text, "ssl_context") {
		return text + " (" + h + ")"
	}
	return text
}
