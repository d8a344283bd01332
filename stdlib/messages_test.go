package stdlib

import "testing"

func TestHeaderValue(t *testing.T) {
	head := []byte("From: Ann <a@x>\r\nSubject:  long\r\n\t subject \r\n  line\r\nX-Empty:\r\nList-ID: <golang.x>\r\nsubject: second\r\n\r\nBody: no\r\n")
	for _, c := range []struct {
		name, want string
		ok         bool
	}{
		{"from", "Ann <a@x>", true},
		{"Subject", "long subject line", true},
		{"list-id", "<golang.x>", true},
		{"X-Empty", "", true},
		{"Body", "", false},
		{"Fro", "", false},
	} {
		got, ok := headerValue(head, c.name)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: got %q %v, want %q %v", c.name, got, ok, c.want, c.ok)
		}
	}
	if got, ok := headerValue([]byte("To: b@y\nCc: c@z"), "cc"); got != "c@z" || !ok {
		t.Errorf("LF endings, no final newline: got %q %v", got, ok)
	}
}
