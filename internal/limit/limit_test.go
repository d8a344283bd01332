package limit

import "testing"

func TestMessage(t *testing.T) {
	for _, c := range []struct {
		err  Error
		want string
	}{
		{Error{"memory", Bytes(256 << 20)}, "memory limit of 256 MiB exceeded"},
		{Error{"output", Bytes(1536)}, "output limit of 1536 bytes exceeded"},
		{Error{"connection", "8"}, "connection limit of 8 exceeded"},
		{Error{"memory", Bytes(2 << 30)}, "memory limit of 2 GiB exceeded"},
		{Error{"output", Bytes(4 << 10)}, "output limit of 4 KiB exceeded"},
	} {
		if got := c.err.Error(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.err, got, c.want)
		}
	}
}
