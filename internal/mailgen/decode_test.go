package mailgen

import (
	"io"
	"mime"

	"golang.org/x/text/encoding/ianaindex"
)

// mailDecoder decodes RFC 2047 words in every charset the generator uses.
type mailDecoder struct{}

func (mailDecoder) DecodeHeader(s string) (string, error) {
	d := &mime.WordDecoder{CharsetReader: func(cs string, r io.Reader) (io.Reader, error) {
		e, err := ianaindex.MIME.Encoding(cs)
		if err != nil {
			return nil, err
		}
		return e.NewDecoder().Reader(r), nil
	}}
	return d.DecodeHeader(s)
}
