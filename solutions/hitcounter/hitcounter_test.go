package hitcounter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	// callLimit bounds, in real time, every call of Tally: a correct Tally
	// needs milliseconds, and one that never returns fails its test
	// instead of hanging it.
	callLimit = 5 * time.Second
	// meetWait bounds how long TestTallyReadsShardsInParallel waits for
	// every shard to be read at once.
	meetWait = 2 * time.Second
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

// hung is set once a call of Tally has not returned within callLimit. The
// lab has failed then, and later calls get a tenth of the time, so that a
// Tally that never returns is reported in seconds, not once per test.
var hung atomic.Bool

// tally calls Tally(shards), but gives up after callLimit: it then fails t
// with the goroutines of the lab that are still running, and returns false.
func tally(t *testing.T, shards []io.Reader) (Stats, error, bool) {
	t.Helper()
	type result struct {
		stats Stats
		err   error
	}
	limit := callLimit
	if hung.Load() {
		limit = callLimit / 10
	}
	done := make(chan result, 1) // buffered: the call may end after the test gave up
	go func() {
		stats, err := Tally(shards)
		done <- result{stats, err}
	}()
	select {
	case r := <-done:
		return r.stats, r.err, true
	case <-time.After(limit):
		hung.Store(true)
		t.Errorf("deadlock: Tally(%d shards) has not returned after %v; want it to return as soon as every shard is read. Its goroutines:\n%s", len(shards), limit, labGoroutines())
		return Stats{}, nil, false
	}
}

// labGoroutines returns the stacks of the goroutines that run code of this
// package, as the runtime prints them.
func labGoroutines() string {
	pc, _, _, _ := runtime.Caller(0)
	fn := runtime.FuncForPC(pc).Name() // "<package path>.labGoroutines"
	pkg := fn[:strings.LastIndex(fn, ".")+1]
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "\n"+pkg) && !strings.Contains(g, pkg+"labGoroutines(") {
			out = append(out, g)
		}
	}
	if len(out) > 8 {
		out = append(out[:8], fmt.Sprintf("...and %d more", len(out)-8))
	}
	return strings.Join(out, "\n\n")
}

func TestTallyCountsEveryHit(t *testing.T) {
	if !raceDetector {
		t.Fatal("this lab's bug is a data race, and only the race detector finds one on every run: without it this test passes or fails by luck. Run: go test -race ./labs/hitcounter")
	}
	for _, n := range []int{1, 2, 3, 5, 8, 16} {
		shards, want := accessLog(n, 300)
		got, err, ok := tally(t, readers(shards))
		if !ok {
			return
		}
		require.NoError(t, err, "Tally(%d shards) returned an error, want none", n)
		checkTotals(t, n, got, want)
	}
}

// checkTotals fails t unless Tally counted want. Fewer requests or errors
// than there are means updates were lost: a race, even when the race
// detector saw none.
func checkTotals(t *testing.T, shards int, got, want Stats) {
	t.Helper()
	switch {
	case got == want:
	case got.Total <= want.Total && got.Errors <= want.Errors:
		t.Errorf("race: Tally(%d shards) counted %d requests, %d errors; want %d requests, %d errors: updates were lost when the shards' goroutines updated the counts at the same time. An atomic Load followed by a Store is not one atomic step: use Add, CompareAndSwap, or a mutex around the update",
			shards, got.Total, got.Errors, want.Total, want.Errors)
	default:
		t.Errorf("Tally(%d shards) counted %d requests, %d errors; want %d requests, %d errors", shards, got.Total, got.Errors, want.Total, want.Errors)
	}
}

func TestTallyEmptyLog(t *testing.T) {
	for _, shards := range [][]io.Reader{nil, readers([]string{"", "\n\n", ""})} {
		got, err, ok := tally(t, shards)
		if !ok {
			return
		}
		assert.NoError(t, err, "Tally(%d empty shards) returned an error, want none", len(shards))
		assert.Zero(t, got, "Tally(%d empty shards) = %+v; want no requests", len(shards), got)
	}
}

func TestTallyReadError(t *testing.T) {
	errDisk := errors.New("disk unplugged")
	shards, _ := accessLog(3, 100)
	rs := append(readers(shards), io.MultiReader(strings.NewReader("GET /pricing 200\n"), iotest.ErrReader(errDisk)))
	got, err, ok := tally(t, rs)
	if !ok {
		return
	}
	assert.ErrorIs(t, err, errDisk, "Tally must return the error of the shard that failed")
	assert.Zero(t, got, "Tally returned %+v with its error; want the zero Stats", got)
}

func TestTallyMalformedLine(t *testing.T) {
	const bad = "GET/pricing 200"
	shards, _ := accessLog(3, 100)
	shards = append(shards, "GET / 200\n"+bad+"\nGET /docs 200\n")
	got, err, ok := tally(t, readers(shards))
	if !ok {
		return
	}
	assert.ErrorContains(t, err, fmt.Sprintf("%q", bad), "Tally must return an error that quotes the malformed line")
	assert.Zero(t, got, "Tally returned %+v with its error; want the zero Stats", got)
}

// Several shards fail in the same call, between good ones: every failing
// shard's goroutine reports its error at about the same time.
func TestTallySeveralShardsFail(t *testing.T) {
	errDisk := errors.New("disk unplugged")
	errNet := errors.New("connection reset")
	good, _ := accessLog(4, 100)
	rs := []io.Reader{
		strings.NewReader(good[0]),
		io.MultiReader(strings.NewReader("GET / 200\nGET /docs 503\n"), iotest.ErrReader(errDisk)),
		strings.NewReader(good[1]),
		strings.NewReader("GET/pricing 200\n"),
		iotest.ErrReader(errNet),
		strings.NewReader(good[2]),
		strings.NewReader("GET / 200\nPOST /signup 2o1\n"),
		strings.NewReader(good[3]),
	}
	got, err, ok := tally(t, rs)
	if !ok {
		return
	}
	if assert.Error(t, err, "four of the eight shards fail; want an error") {
		named := errors.Is(err, errDisk) || errors.Is(err, errNet) ||
			strings.Contains(err.Error(), `"GET/pricing 200"`) || strings.Contains(err.Error(), `"POST /signup 2o1"`)
		assert.True(t, named, "Tally's error %q names none of the shards that failed", err)
	}
	assert.Zero(t, got, "Tally returned %+v with its error; want the zero Stats", got)
}

// Reading and parsing a shard is the work that must run in parallel: only
// the updates of the counts may wait for one another. So the rendezvous is
// in the middle of every shard, not at its first read: a Tally that reads
// the first line of each shard in parallel, then handles the rest of each
// shard under one lock, never gets every shard there at once.
func TestTallyReadsShardsInParallel(t *testing.T) {
	const requests = 100
	for _, n := range []int{2, 3, 5, 8} {
		shards, want := accessLog(n, requests)
		meet := newRendezvous(t, n, meetWait)
		rs := make([]io.Reader, n)
		for i, s := range shards {
			rs[i] = &lineReader{lines: strings.SplitAfter(s, "\n"), meetAt: requests / 2, meet: meet}
		}
		got, err, ok := tally(t, rs)
		if !ok {
			return
		}
		if most := meet.most(); most < n {
			t.Fatalf("serialized: of %d shards, at most %d were being read at once halfway through; Tally must read and parse every shard in parallel all the way through, and hold a lock only around the updates of the counts", n, most)
		}
		require.NoError(t, err, "Tally(%d shards) returned an error, want none", n)
		checkTotals(t, n, got, want)
	}
}

// TestTallyLosesNoUpdates makes the shards' goroutines update the counts
// at the same time, many times over, and checks the totals. A data race
// is reported by the race detector in the other tests; this test is for
// what the detector cannot see: atomic loads and stores composed into a
// read-modify-write, such as n.Store(n.Load()+1). Each is atomic, but
// together they are not: another goroutine can update n between them, and
// one of the two updates is lost.
//
// Such a loss needs another goroutine to run between two instructions of
// the learner's loop, with no call into this test's code between them, so
// no rendezvous can force it: only goroutines running at the same instant
// (on two cores, or one preempted by the operating system between the
// two) lose updates. The test gives that every chance: it runs with at
// least 16 Ps, reads 16 shards at once, and repeats until an update is
// lost or it has counted 160,000 requests.
func TestTallyLosesNoUpdates(t *testing.T) {
	prev := runtime.GOMAXPROCS(max(runtime.GOMAXPROCS(0), 16))
	defer runtime.GOMAXPROCS(prev)
	const n, requests, calls = 16, 1000, 10
	lines := []string{"GET / 503\n", "GET /pricing 500\n", "POST /signup 201\n", "GET /docs 502\n"}
	shard := strings.Repeat(strings.Join(lines, ""), requests/len(lines))
	want := Stats{Total: n * requests, Errors: n * requests * 3 / 4}
	for range calls {
		rs := make([]io.Reader, n)
		for i := range rs {
			rs[i] = strings.NewReader(shard)
		}
		got, err, ok := tally(t, rs)
		if !ok {
			return
		}
		require.NoError(t, err, "Tally(%d shards) returned an error, want none", n)
		if checkTotals(t, n, got, want); t.Failed() {
			return
		}
	}
}

// A lineReader is a shard read one line per Read call, as a slow disk
// would return it. The Read of line meetAt (counted from 0) first goes to
// the rendezvous. Only the goroutine that reads the shard touches it.
type lineReader struct {
	lines  []string // what is left to read, one line each
	read   int      // lines read so far
	meetAt int      // the line whose Read goes to meet first
	meet   *rendezvous
}

func (r *lineReader) Read(p []byte) (int, error) {
	if len(r.lines) == 0 || r.lines[0] == "" {
		return 0, io.EOF
	}
	if r.read == r.meetAt {
		r.meet.arrive()
	}
	n := copy(p, r.lines[0])
	r.lines[0] = r.lines[0][n:]
	if r.lines[0] == "" {
		r.lines = r.lines[1:]
		r.read++
	}
	return n, nil
}

// A rendezvous holds back one Read of every shard until all of them are
// being read at once, which only code that reads the shards in parallel
// achieves. When that takes longer than its timeout, it lets every Read
// through and remembers how many shards it saw at once.
//
// It orders Tally's goroutines around that one Read only: what they do
// with the lines they read before and after it is still unordered, for the
// race detector to see.
type rendezvous struct {
	want   int             // shards that must meet
	all    chan struct{}   // closed when all want shards have arrived
	giveUp <-chan struct{} // closed when the timeout has passed

	mu      sync.Mutex // protects waiting and peak
	waiting int        // shards waiting in the rendezvous now
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
