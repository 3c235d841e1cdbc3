package thumbnails

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// ErrFormat is the error Decode returns, wrapped, for data that is not a
// binary PGM image.
var ErrFormat = errors.New("not a binary PGM image")

// A Pixmap is a grayscale image: Width×Height pixels, one byte each, row
// by row from the top left.
type Pixmap struct {
	Width, Height int
	Pix           []byte
}

// Decode reads a binary PGM image ("P5", as most image tools write it):
// the header "P5 WIDTH HEIGHT 255", one whitespace character, then the
// pixels.
func Decode(data []byte) (*Pixmap, error) {
	var fields [4][]byte
	rest := data
	for i := range fields {
		rest = bytes.TrimLeft(rest, " \t\r\n")
		end := bytes.IndexAny(rest, " \t\r\n")
		if end <= 0 {
			return nil, fmt.Errorf("%w: the header ends early", ErrFormat)
		}
		fields[i], rest = rest[:end], rest[end+1:]
	}
	if string(fields[0]) != "P5" {
		return nil, fmt.Errorf("%w: it starts with %q, want P5", ErrFormat, fields[0])
	}
	w, errW := strconv.Atoi(string(fields[1]))
	h, errH := strconv.Atoi(string(fields[2]))
	if errW != nil || errH != nil || w <= 0 || h <= 0 {
		return nil, fmt.Errorf("%w: size %sx%s", ErrFormat, fields[1], fields[2])
	}
	if string(fields[3]) != "255" {
		return nil, fmt.Errorf("%w: maximum value %s, want 255", ErrFormat, fields[3])
	}
	if len(rest) != w*h {
		return nil, fmt.Errorf("%w: %d bytes of pixels for %dx%d", ErrFormat, len(rest), w, h)
	}
	return &Pixmap{Width: w, Height: h, Pix: bytes.Clone(rest)}, nil
}

// Encode returns p as a binary PGM image, which Decode reads.
func (p *Pixmap) Encode() []byte {
	header := fmt.Sprintf("P5\n%d %d\n255\n", p.Width, p.Height)
	return append([]byte(header), p.Pix...)
}

// Scale returns a copy of p that is width pixels wide (at least 1) and
// keeps p's aspect ratio. Each of its pixels is the average of the pixels
// of p that it covers.
func (p *Pixmap) Scale(width int) *Pixmap {
	width = max(width, 1)
	height := max(p.Height*width/p.Width, 1)
	out := &Pixmap{Width: width, Height: height, Pix: make([]byte, width*height)}
	for y := range height {
		y0, y1 := span(y, height, p.Height)
		for x := range width {
			x0, x1 := span(x, width, p.Width)
			sum, n := 0, 0
			for sy := y0; sy < y1; sy++ {
				for sx := x0; sx < x1; sx++ {
					sum += int(p.Pix[sy*p.Width+sx])
					n++
				}
			}
			out.Pix[y*width+x] = byte(sum / n)
		}
	}
	return out
}

// span returns the source pixels [from, to) that pixel i of a row or column
// of n pixels covers in one of size pixels; it covers at least one.
func span(i, n, size int) (from, to int) {
	from = i * size / n
	to = max((i+1)*size/n, from+1)
	return from, min(to, size)
}
