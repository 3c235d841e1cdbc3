package thumbnails

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// meetWait bounds how long TestRenderAllAtOnce waits for every photo
	// to be read at once.
	meetWait = 2 * time.Second
	// renderWait bounds every call to Render.
	renderWait = 5 * time.Second
)

// errNoPhoto is what an album returns for a photo it does not have.
var errNoPhoto = errors.New("no such photo")

// An album holds photos by name. Render only reads it, so it is safe for
// concurrent use without any lock, and it orders nothing that Render's
// goroutines do: the race detector sees Render's own synchronization.
type album map[string][]byte

func (a album) Photo(name string) ([]byte, error) {
	data, ok := a[name]
	if !ok {
		return nil, errNoPhoto
	}
	return data, nil
}

// photoNames returns n photo names of the same length that share a
// prefix, as a camera names them.
func photoNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("IMG_%04d.pgm", []int{1, 10, 100, 1000, 11, 110, 101, 1001}[i%8]+i/8)
	}
	return names
}

// A photo is a test picture: a different size and pattern for every seed.
func photo(seed int) *Pixmap {
	p := &Pixmap{Width: 40 + seed*13%80, Height: 30 + seed*7%60}
	p.Pix = make([]byte, p.Width*p.Height)
	for k := range p.Pix {
		p.Pix[k] = byte((k*(seed+3) + (k/p.Width)*seed*17) % 251)
	}
	return p
}

// newAlbum returns an album with a photo for each of names but those in
// missing, with data that is not PGM for those in corrupt, and the
// thumbnails, width pixels wide, that Render must return for names when
// none is missing or corrupt.
func newAlbum(t *testing.T, names []string, width int, missing, corrupt []int) (album, []*Pixmap) {
	t.Helper()
	a := album{}
	want := make([]*Pixmap, len(names))
	for i, name := range names {
		p := photo(i + 1)
		want[i] = p.Scale(width)
		for j := range i {
			if same(want[i], want[j]) {
				t.Fatalf("test bug: the thumbnails of %s and %s are the same", names[i], names[j])
			}
		}
		switch {
		case contains(missing, i):
		case contains(corrupt, i):
			a[name] = []byte("GIF89a\x01\x00\x01\x00")
		default:
			a[name] = p.Encode()
		}
	}
	return a, want
}

func TestRenderEveryPhoto(t *testing.T) {
	for _, c := range []struct{ photos, width int }{
		{3, 16}, {2, 7}, {8, 24}, {1, 10}, {0, 10},
	} {
		names := photoNames(c.photos)
		a, want := newAlbum(t, names, c.width, nil, nil)
		var thumbs []*Pixmap
		var err error
		within(t, func() { thumbs, err = Render(a, names, c.width) })
		if err != nil {
			t.Errorf("Render(%d photos) returned error %v; want none: every photo is there", c.photos, err)
			continue
		}
		checkThumbs(t, names, thumbs, want)
	}
}

func TestRenderReportsEveryFailure(t *testing.T) {
	// Every photo fails in the first two cases, so their goroutines all
	// report an error at once.
	for _, c := range []struct {
		photos           int
		missing, corrupt []int
	}{
		{photos: 3, missing: []int{0, 1, 2}},
		{photos: 2, corrupt: []int{0, 1}},
		{photos: 6, missing: []int{1, 4}, corrupt: []int{3}},
		{photos: 4, corrupt: []int{2}},
		{photos: 5, missing: []int{0}},
	} {
		names := photoNames(c.photos)
		a, _ := newAlbum(t, names, 16, c.missing, c.corrupt)
		var thumbs []*Pixmap
		var err error
		within(t, func() { thumbs, err = Render(a, names, 16) })

		var failed []string // in the order of names
		for i, name := range names {
			if contains(c.missing, i) || contains(c.corrupt, i) {
				failed = append(failed, name)
			}
		}
		if thumbs != nil {
			t.Errorf("Render returned %d thumbnails and an error for %d photos of which %d failed; want nil thumbnails", len(thumbs), c.photos, len(failed))
		}
		if err == nil {
			t.Errorf("Render returned no error; want one for each of %s", strings.Join(failed, ", "))
			continue
		}
		if len(c.missing) > 0 && !errors.Is(err, errNoPhoto) {
			t.Errorf("Render's error does not wrap the album's error for a missing photo (errors.Is is false); it says:\n%v", err)
		}
		if len(c.corrupt) > 0 && !errors.Is(err, ErrFormat) {
			t.Errorf("Render's error does not wrap Decode's error for a corrupt photo (errors.Is(err, ErrFormat) is false); it says:\n%v", err)
		}
		lines := strings.Split(err.Error(), "\n")
		if len(lines) != len(failed) {
			t.Errorf("Render's error has %d line(s) for %d photos that failed (%s); want the error of every one of them, joined in the order of names, one a line:\n%v", len(lines), len(failed), strings.Join(failed, ", "), err)
			continue
		}
		for k, name := range failed {
			if !strings.Contains(lines[k], name) {
				t.Errorf("line %d of Render's error does not name %s; want the errors of %s, in the order of names:\n%v", k+1, name, strings.Join(failed, ", "), err)
			}
		}
	}
}

func TestRenderAllAtOnce(t *testing.T) {
	for _, n := range []int{2, 5} {
		names := photoNames(n)
		a, want := newAlbum(t, names, 12, nil, nil)
		meet := newRendezvous(t, n, meetWait)
		var thumbs []*Pixmap
		var err error
		within(t, func() { thumbs, err = Render(meetingAlbum{a, meet}, names, 12) })
		if most, at := meet.most(); most < n {
			t.Fatalf("serialized: Render read at most %d of %d photos at a time, at %s; it must render them all at the same time, one goroutine per photo", most, n, at)
		}
		if err != nil {
			t.Errorf("Render(%d photos) returned error %v; want none: every photo is there", n, err)
			continue
		}
		checkThumbs(t, names, thumbs, want)
	}
}

// checkThumbs fails the test unless thumbs are want, the thumbnails of
// names in that order.
func checkThumbs(t *testing.T, names []string, thumbs, want []*Pixmap) {
	t.Helper()
	if len(thumbs) != len(want) {
		t.Errorf("Render returned %d thumbnails for %d photos; want one per photo, in the order of names", len(thumbs), len(names))
		return
	}
	for i, th := range thumbs {
		if same(th, want[i]) {
			continue
		}
		got := "no photo's thumbnail"
		if th == nil {
			got = "missing (nil)"
		}
		for j := range want {
			if same(th, want[j]) {
				got = "the thumbnail of " + names[j]
			}
		}
		t.Errorf("thumbnail %d is %s; want the thumbnail of %s, %d pixels wide", i, got, names[i], want[i].Width)
	}
}

func same(a, b *Pixmap) bool {
	return a != nil && b != nil && a.Width == b.Width && a.Height == b.Height && bytes.Equal(a.Pix, b.Pix)
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// within runs render, which calls Render, and fails the test if it has
// not returned within renderWait. It runs render on a goroutine of its
// own, whose stack starts in the calling test: the race detector reports
// a race once per pair of stacks, so each test's races are its own.
func within(t *testing.T, render func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		render()
	}()
	select {
	case <-done:
	case <-time.After(renderWait):
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("deadlock: Render has not returned after %v; all goroutines:\n\n%s", renderWait, buf)
	}
}

// A rendezvous holds back every photo's read until all of them are being
// read at once, which only code that renders the photos at the same time
// achieves. When that takes longer than its timeout, it lets every read
// through and remembers how many it saw at once.
type rendezvous struct {
	want   int             // reads that must meet
	all    chan struct{}   // closed when want reads have arrived
	giveUp <-chan struct{} // closed when the timeout has passed

	mu      sync.Mutex // protects waiting, peak and readAt
	waiting int        // reads waiting now
	peak    int        // the most reads that waited at once
	readAt  string     // where Render reads the photos, such as "thumbnails.go:40"
}

// newRendezvous returns a rendezvous for want reads that gives up after
// timeout.
func newRendezvous(t *testing.T, want int, timeout time.Duration) *rendezvous {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return &rendezvous{want: want, all: make(chan struct{}), giveUp: ctx.Done()}
}

// arrive waits until want reads have arrived, or the timeout has passed.
func (m *rendezvous) arrive() {
	site := callerIn("thumbnails.go")
	m.mu.Lock()
	if m.readAt == "" {
		m.readAt = site
	}
	m.waiting++
	m.peak = max(m.peak, m.waiting)
	if m.waiting == m.want {
		close(m.all)
	}
	m.mu.Unlock()

	select {
	case <-m.all:
	case <-m.giveUp:
	}

	m.mu.Lock()
	m.waiting--
	m.mu.Unlock()
}

// most returns the most reads that waited at once, and where Render
// read the photos.
func (m *rendezvous) most() (peak int, readAt string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.peak, m.readAt
}

// callerIn returns the innermost frame of the calling goroutine that is in
// the file named file, such as "thumbnails.go:40", or "".
func callerIn(file string) string {
	pcs := make([]uintptr, 32)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		f, more := frames.Next()
		if filepath.Base(f.File) == file {
			return fmt.Sprintf("%s:%d", file, f.Line)
		}
		if !more {
			return ""
		}
	}
}

// A meetingAlbum is an album whose every read goes to a rendezvous first.
type meetingAlbum struct {
	album
	meet *rendezvous
}

func (a meetingAlbum) Photo(name string) ([]byte, error) {
	a.meet.arrive()
	return a.album.Photo(name)
}
