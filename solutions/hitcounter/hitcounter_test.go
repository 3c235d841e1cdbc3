package hitcounter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// accessLog returns n shards of an access log, each with the given number
// of requests, and the Stats that Tally must return for them.
//
// Every shard ends with a server error. A shard's goroutine then updates
// Errors after everything else it does, so that when a fix guards Total
// and not Errors, the race detector reports Errors in every run, whatever
// order the shards are read in.
func accessLog(n, requests int) ([]string, Stats) {
	methods := []string{"GET", "GET", "POST", "HEAD"}
	pages := []string{"/", "/pricing", "/docs", "/blog", "/signup", "/docs/install"}
	statuses := []int{200, 200, 304, 404, 500, 200, 503}
	var want Stats
	shards := make([]string, n)
	for i := range shards {
		var b strings.Builder
		for j := range requests {
			status := statuses[(i+j)%len(statuses)]
			if j == requests-1 {
				status = 503
			}
			fmt.Fprintf(&b, "%s %s %d\n", methods[j%len(methods)], pages[(i*7+j*j)%len(pages)], status)
			if j%100 == 99 {
				b.WriteString("\n") // blank lines are not requests
			}
			want.Total++
			if status >= 500 {
				want.Errors++
			}
		}
		shards[i] = b.String()
	}
	return shards, want
}

// readers returns a reader for each shard.
func readers(shards []string) []io.Reader {
	rs := make([]io.Reader, len(shards))
	for i, s := range shards {
		rs[i] = strings.NewReader(s)
	}
	return rs
}

func TestTallyCountsEveryHit(t *testing.T) {
	if !raceDetector {
		t.Fatal("this lab's bug is a data race, and only the race detector finds one on every run: without it this test passes or fails by luck. Run: go test -race ./labs/hitcounter")
	}
	shards, want := accessLog(4, 500)
	got, err := Tally(readers(shards))
	require.NoError(t, err, "Tally returned an error, want none")
	assert.Equal(t, want, got, "Tally counted %d requests, %d errors; want %d requests, %d errors", got.Total, got.Errors, want.Total, want.Errors)
}

func TestTallyEmptyLog(t *testing.T) {
	for _, shards := range [][]io.Reader{nil, readers([]string{"", "\n\n", ""})} {
		got, err := Tally(shards)
		assert.NoError(t, err, "Tally(%d empty shards) returned an error, want none", len(shards))
		assert.Zero(t, got, "Tally(%d empty shards) = %+v; want no requests", len(shards), got)
	}
}

func TestTallyReadError(t *testing.T) {
	errDisk := errors.New("disk unplugged")
	shards, _ := accessLog(3, 100)
	rs := append(readers(shards), io.MultiReader(strings.NewReader("GET /pricing 200\n"), iotest.ErrReader(errDisk)))
	_, err := Tally(rs)
	assert.ErrorIs(t, err, errDisk, "Tally must return the error of the shard that failed")
}

func TestTallyMalformedLine(t *testing.T) {
	const bad = "GET/pricing 200"
	shards, _ := accessLog(3, 100)
	shards = append(shards, "GET / 200\n"+bad+"\nGET /docs 200\n")
	_, err := Tally(readers(shards))
	assert.ErrorContains(t, err, fmt.Sprintf("%q", bad), "Tally must return an error that quotes the malformed line")
}

func TestTallyReadsShardsInParallel(t *testing.T) {
	const n = 4
	shards, _ := accessLog(n, 100)
	meet := newRendezvous(t, n, 2*time.Second)
	rs := readers(shards)
	for i, r := range rs {
		rs[i] = &meetingReader{r: r, meet: meet}
	}
	_, err := Tally(rs)
	if most := meet.most(); most < n {
		t.Fatalf("serialized: Tally read at most %d of the %d shards at a time; it must read them all in parallel", most, n)
	}
	assert.NoError(t, err, "Tally returned an error, want none")
}

// A rendezvous holds back the first Read of every shard until all of them
// are being read at once, which only code that reads the shards in parallel
// achieves. When that takes longer than its timeout, it lets every Read
// through and remembers how many shards it saw at once.
//
// It orders Tally's goroutines before their first Read only: what they do
// with the lines they read is still unordered, for the race detector to see.
type rendezvous struct {
	want   int             // shards that must meet
	all    chan struct{}   // closed when all want shards have arrived
	giveUp <-chan struct{} // closed when the timeout has passed

	mu      sync.Mutex // protects waiting and peak
	waiting int        // shards waiting in their first Read now
	peak    int        // the most shards that waited at once
}

// newRendezvous returns a rendezvous for want shards that gives up after
// timeout.
func newRendezvous(t *testing.T, want int, timeout time.Duration) *rendezvous {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return &rendezvous{want: want, all: make(chan struct{}), giveUp: ctx.Done()}
}

// arrive waits until every shard has arrived, or the timeout has passed.
func (m *rendezvous) arrive() {
	m.mu.Lock()
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

// most returns the most shards that were waiting at once.
func (m *rendezvous) most() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.peak
}

// A meetingReader is a shard that goes to the rendezvous on its first Read
// and reads straight through after it.
type meetingReader struct {
	r       io.Reader
	meet    *rendezvous
	arrived bool // touched only by the goroutine that reads this shard
}

func (r *meetingReader) Read(p []byte) (int, error) {
	if !r.arrived {
		r.arrived = true
		r.meet.arrive()
	}
	return r.r.Read(p)
}
