package mirror

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// Every test runs in a testing/synctest bubble, where time is fake and
// exact: a download takes a set time (one second unless said otherwise),
// and a download whose ctx is done gives up after giveUp.
const (
	took   = time.Second
	giveUp = 10 * time.Millisecond
	// extraGoroutines is how many goroutines Sync may run besides its
	// Workers and the caller's: one to hand out the names, one to gather
	// the errors.
	extraGoroutines = 2
)

var (
	errNotFound = errors.New("404 not found")
	errReset    = errors.New("connection reset by peer")
)

// content returns the bytes of the upstream file name.
func content(name string) []byte {
	return bytes.Repeat([]byte(name+"\n"), 1+len(name)%7)
}

// files returns n different file names of the same length that share
// prefixes: pool/main/pkg-000000.deb, pool/main/pkg-000001.deb...
func files(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("pool/main/pkg-%06b.deb", i)
	}
	return names
}

// A server is the test's Upstream and Disk. It counts the connections and
// open files at each moment.
type server struct {
	took     map[string]time.Duration // how long a download takes; took if absent
	notFound map[string]bool          // Open fails with errNotFound
	reset    map[string]bool          // the download fails partway with errReset

	mu        sync.Mutex // protects the fields below
	conns     int        // connections open now
	peakConns int        // the most connections open at once
	files     int        // local files open now
	peakFiles int        // the most local files open at once
	stored    map[string][]byte
}

func newServer() *server {
	return &server{took: map[string]time.Duration{}, notFound: map[string]bool{}, reset: map[string]bool{}, stored: map[string][]byte{}}
}

func (s *server) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.notFound[name] {
		return nil, errNotFound
	}
	s.mu.Lock()
	s.conns++
	s.peakConns = max(s.peakConns, s.conns)
	d, ok := s.took[name]
	s.mu.Unlock()
	if !ok {
		d = took
	}
	return &download{s: s, ctx: ctx, name: name, took: d, r: bytes.NewReader(content(name))}, nil
}

// A download is one connection: its first Read takes the download's time.
type download struct {
	s      *server
	ctx    context.Context
	name   string
	took   time.Duration
	r      *bytes.Reader
	waited bool
	closed bool
}

func (d *download) Read(p []byte) (int, error) {
	if !d.waited {
		d.waited = true
		timer := time.NewTimer(d.took)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-d.ctx.Done():
			time.Sleep(giveUp)
			return 0, d.ctx.Err()
		}
		if d.s.reset[d.name] {
			return 0, errReset
		}
	}
	return d.r.Read(p)
}

func (d *download) Close() error {
	if !d.closed {
		d.closed = true
		d.s.mu.Lock()
		d.s.conns--
		d.s.mu.Unlock()
	}
	return nil
}

func (s *server) Create(name string) (io.WriteCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files++
	s.peakFiles = max(s.peakFiles, s.files)
	return &localFile{s: s, name: name}, nil
}

// A localFile is a file on the test's Disk.
type localFile struct {
	s      *server
	name   string
	buf    bytes.Buffer
	closed bool
}

func (f *localFile) Write(p []byte) (int, error) { return f.buf.Write(p) }

func (f *localFile) Close() error {
	if !f.closed {
		f.closed = true
		f.s.mu.Lock()
		f.s.files--
		f.s.stored[f.name] = f.buf.Bytes()
		f.s.mu.Unlock()
	}
	return nil
}

// counts returns the server's counters.
func (s *server) counts() (conns, peakConns, files, peakFiles int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns, s.peakConns, s.files, s.peakFiles
}

// A run is what a call to Sync did.
type run struct {
	err     error
	elapsed time.Duration // fake time from the call to its return
	peakGor int           // the most goroutines running mirror.go at once, besides the caller's
	from    string        // where they came from, such as "started at mirror.go:60"
}

// syncAll calls m.Sync(ctx, names) in a new goroutine and, every took of
// fake time (half-way through each round of one-second downloads), counts
// the goroutines Sync has started. A rough count, the goroutines of the
// process less those there were before, is cheap; when it is more than
// m.Workers, or s has more than m.Workers connections open, a census of
// every goroutine's stack counts them exactly and says where they come
// from. If Sync has not returned after limit, syncAll fails t with where
// Sync waits, and returns false.
func syncAll(t *testing.T, ctx context.Context, s *server, m *Mirror, names []string, limit time.Duration) (run, bool) {
	t.Helper()
	done := make(chan error, 1)
	before := runtime.NumGoroutine() + 1 // and the one that calls Sync
	start := time.Now()
	go func() { done <- m.Sync(ctx, names) }() // exits when Sync returns
	var r run
	next := took / 2
	for {
		select {
		case err := <-done:
			r.err, r.elapsed = err, time.Since(start)
			return r, true
		case <-time.After(time.Until(start.Add(next))):
		}
		synctest.Wait() // every goroutine is where it waits
		n := runtime.NumGoroutine() - before
		if conns, _, _, _ := s.counts(); n > m.Workers || conns > m.Workers {
			n, from := census()
			if n > r.peakGor || r.from == "" {
				r.peakGor, r.from = max(n, r.peakGor), from
			}
		} else {
			r.peakGor = max(n, r.peakGor)
		}
		if next += took; next > limit {
			t.Errorf("deadlock: Sync of %d files with Workers = %d has not returned after %v of fake time; it waits at %s", len(names), m.Workers, limit, stuckAt("mirror.go"))
			return r, false
		}
	}
}

var (
	createdBy = regexp.MustCompile(`\ncreated by [^\n]*\n\t([^\n]*):(\d+)`)
	inMirror  = regexp.MustCompile(`/mirror\.go:(\d+)`)
)

// census counts the goroutines that run the code of mirror.go, other than
// those the tests started, and says where the first of them comes from:
// "started at mirror.go:60", its go statement, or, for a goroutine started
// by a library (sync.WaitGroup.Go, errgroup), "running mirror.go:62", the
// outermost line of mirror.go it runs.
func census() (n int, from string) {
	buf := make([]byte, 1<<17)
	size := runtime.Stack(buf, true)
	for size == len(buf) { // the dump may not have fitted
		buf = make([]byte, 2*len(buf))
		size = runtime.Stack(buf, true)
	}
	buf = buf[:size]
	for _, g := range strings.Split(string(buf), "\n\n") {
		frames := inMirror.FindAllStringSubmatch(g, -1)
		if frames == nil {
			continue
		}
		c := createdBy.FindStringSubmatch(g)
		if c != nil && strings.HasSuffix(c[1], "_test.go") {
			continue // the goroutine that calls Sync
		}
		n++
		if from == "" {
			if c != nil && filepath.Base(c[1]) == "mirror.go" {
				from = "started at mirror.go:" + c[2]
			} else {
				from = "running mirror.go:" + frames[len(frames)-1][1]
			}
		}
	}
	return n, from
}

// checkBound fails t unless Sync kept within its bound of workers in r,
// and used all of them: at most Workers connections and files at once, in
// at most Workers goroutines (plus extraGoroutines), and as many
// connections at once as there were workers or files.
func checkBound(t *testing.T, s *server, r run, workers, n int) bool {
	t.Helper()
	_, peakConns, _, peakFiles := s.counts()
	if peakConns > workers || peakFiles > workers || r.peakGor > workers+extraGoroutines {
		from := ""
		if r.from != "" {
			from = " (" + r.from + ")"
		}
		t.Errorf("overspawn: Sync of %d files with Workers = %d had %d downloads in progress at once (%d connections and %d files open) in %d goroutines%s; want at most %d at once (Python: ThreadPoolExecutor(max_workers=%d)), in at most %d goroutines besides the caller's",
			n, workers, max(peakConns, peakFiles), peakConns, peakFiles, r.peakGor, from, workers, workers, workers+extraGoroutines)
		return false
	}
	if want := min(workers, n); peakConns < want {
		t.Errorf("serialized: Sync of %d files with Workers = %d had at most %d download(s) in progress at once; want %d at once", n, workers, peakConns, want)
		return false
	}
	return true
}

// checkClosed fails t unless every connection and file is closed.
func checkClosed(t *testing.T, s *server) {
	t.Helper()
	if conns, _, open, _ := s.counts(); conns > 0 || open > 0 {
		t.Errorf("leak: Sync returned with %d connection(s) and %d file(s) still open; want every download ended, its connection and file closed", conns, open)
	}
}

// checkStored fails t unless exactly the files names are stored, each
// with its content.
func checkStored(t *testing.T, s *server, names []string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, name := range names {
		if got, ok := s.stored[name]; !ok {
			t.Errorf("%s was not stored; want every file that could be downloaded on the disk", name)
		} else if !bytes.Equal(got, content(name)) {
			t.Errorf("%s was stored with %d bytes; want its %d bytes", name, len(got), len(content(name)))
		}
	}
	if len(s.stored) > len(names) {
		t.Errorf("%d files were stored; want %d", len(s.stored), len(names))
	}
}

func TestSyncBoundsTheDownloads(t *testing.T) {
	for _, tc := range []struct{ workers, files int }{
		{1, 12}, {2, 12}, {3, 12}, {7, 20}, {50, 10}, {4, 0},
	} {
		t.Run(fmt.Sprintf("workers=%d/files=%d", tc.workers, tc.files), func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				s := newServer()
				m := &Mirror{Upstream: s, Disk: s, Workers: tc.workers}
				names := files(tc.files)
				r, ok := syncAll(t, context.Background(), s, m, names, time.Duration(tc.files+1)*took+time.Minute)
				if !ok {
					return
				}
				checkClosed(t, s)
				if r.err != nil {
					t.Errorf("Sync returned %v; want nil: every file can be downloaded", r.err)
				}
				checkStored(t, s, names)
				if !checkBound(t, s, r, tc.workers, tc.files) {
					return
				}
				rounds := (tc.files + tc.workers - 1) / tc.workers
				if want := time.Duration(rounds) * took; r.elapsed != want {
					t.Errorf("Sync of %d files that take %v each, with Workers = %d, returned after %v of fake time; want %v", tc.files, took, tc.workers, r.elapsed, want)
				}
				time.Sleep(time.Minute) // a goroutine still blocked then has leaked
			})
		})
	}
}

// makespan returns how long downloads of the given durations take when
// started in order, each as soon as one of workers is free.
func makespan(durations []time.Duration, workers int) time.Duration {
	free := make([]time.Duration, workers) // when each worker is free
	for _, d := range durations {
		i := slices.Index(free, slices.Min(free))
		free[i] += d
	}
	return slices.Max(free)
}

func TestSyncStartsTheNextAtOnce(t *testing.T) {
	for _, tc := range []struct {
		workers int
		secs    []int // each file's download time, in seconds
	}{
		{2, []int{3, 1, 1, 1, 1}},
		{3, []int{1, 4, 1, 1, 2, 1, 3, 1, 1}},
		{2, []int{1, 1, 5, 1, 1, 1, 1, 2}},
	} {
		t.Run(fmt.Sprintf("workers=%d/files=%d", tc.workers, len(tc.secs)), func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				s := newServer()
				names := files(len(tc.secs))
				var durations []time.Duration
				for i, sec := range tc.secs {
					durations = append(durations, time.Duration(sec)*time.Second)
					s.took[names[i]] = durations[i]
				}
				m := &Mirror{Upstream: s, Disk: s, Workers: tc.workers}
				var total time.Duration
				for _, d := range durations {
					total += d
				}
				r, ok := syncAll(t, context.Background(), s, m, names, total+time.Minute)
				if !ok {
					return
				}
				checkClosed(t, s)
				if r.err != nil {
					t.Errorf("Sync returned %v; want nil: every file can be downloaded", r.err)
				}
				checkStored(t, s, names)
				if !checkBound(t, s, r, tc.workers, len(names)) {
					return
				}
				if want := makespan(durations, tc.workers); r.elapsed > want {
					t.Errorf("serialized: Sync of files that take %v seconds, with Workers = %d, returned after %v of fake time; want %v: a download must start as soon as another ends, not when a whole batch has",
						tc.secs, tc.workers, r.elapsed, want)
				} else if r.elapsed != want {
					t.Errorf("Sync of files that take %v seconds, with Workers = %d, returned after %v of fake time; want %v, starting the files in the order given", tc.secs, tc.workers, r.elapsed, want)
				}
				time.Sleep(time.Minute)
			})
		})
	}
}

func TestSyncReportsEveryFailure(t *testing.T) {
	for _, tc := range []struct {
		workers, files  int
		notFound, reset []int
	}{
		{3, 12, []int{2, 11}, []int{5}},
		{2, 5, []int{0, 1, 2}, []int{3, 4}},
		{1, 4, []int{1}, nil},
	} {
		t.Run(fmt.Sprintf("workers=%d/files=%d", tc.workers, tc.files), func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				s := newServer()
				names := files(tc.files)
				var bad []string
				for _, i := range tc.notFound {
					s.notFound[names[i]] = true
					bad = append(bad, names[i])
				}
				for _, i := range tc.reset {
					s.reset[names[i]] = true
					bad = append(bad, names[i])
				}
				m := &Mirror{Upstream: s, Disk: s, Workers: tc.workers}
				r, ok := syncAll(t, context.Background(), s, m, names, time.Duration(tc.files)*took+time.Minute)
				if !ok {
					return
				}
				checkClosed(t, s)
				if r.err == nil {
					t.Fatalf("Sync returned nil; want an error for each of %s", strings.Join(bad, ", "))
				}
				for _, name := range bad {
					if !strings.Contains(r.err.Error(), name) {
						t.Errorf("Sync's error does not name %s; want the error of every file that failed:\n%v", name, r.err)
					}
				}
				if len(tc.notFound) > 0 && !errors.Is(r.err, errNotFound) || len(tc.reset) > 0 && !errors.Is(r.err, errReset) {
					t.Errorf("Sync's error does not wrap every file's error (errors.Is is false); it says:\n%v", r.err)
				}
				var good []string
				for _, name := range names {
					if !slices.Contains(bad, name) {
						good = append(good, name)
					}
				}
				s.mu.Lock()
				for _, name := range tc.reset {
					delete(s.stored, names[name]) // whatever a failed download left
				}
				s.mu.Unlock()
				checkStored(t, s, good)
				time.Sleep(time.Minute)
			})
		})
	}
}

func TestSyncCancelled(t *testing.T) {
	for _, tc := range []struct {
		workers  int
		cancelAt time.Duration // -1: before the call
	}{
		{3, -1}, {3, 2*took + took/2}, {1, took / 2}, {7, 3*took + took/2},
	} {
		when := fmt.Sprintf("after %v", tc.cancelAt)
		if tc.cancelAt < 0 {
			when = "before the call"
		}
		t.Run(fmt.Sprintf("workers=%d/cancelled %s", tc.workers, when), func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				s := newServer()
				names := files(30)
				m := &Mirror{Upstream: s, Disk: s, Workers: tc.workers}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				if tc.cancelAt < 0 {
					cancel()
				} else {
					time.AfterFunc(tc.cancelAt, cancel)
				}
				r, ok := syncAll(t, ctx, s, m, names, time.Duration(len(names))*took+time.Minute)
				if !ok {
					return
				}
				checkClosed(t, s)
				stop := max(tc.cancelAt, 0)
				if tc.cancelAt > 0 && r.elapsed < tc.cancelAt {
					// Every file was downloaded before the cancel.
					if r.err != nil {
						t.Errorf("Sync returned %v after %v, with every file downloaded before ctx was cancelled; want nil", r.err, r.elapsed)
					}
					checkStored(t, s, names)
				} else if !errors.Is(r.err, context.Canceled) {
					t.Errorf("Sync returned %v with ctx cancelled %s; want an error that wraps context.Canceled", r.err, when)
				}
				if r.elapsed > stop+giveUp {
					t.Errorf("Sync returned %v after ctx was cancelled; want it back within %v, as soon as the downloads in progress have given up", r.elapsed-stop, giveUp)
				}
				time.Sleep(time.Minute)
			})
		})
	}
}

// stuckAt returns where a goroutine is waiting in the file named file,
// such as "mirror.go:64", from a dump of every goroutine.
func stuckAt(file string) string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	if m := regexp.MustCompile(`/` + regexp.QuoteMeta(file) + `:(\d+)`).FindSubmatch(buf); m != nil {
		return file + ":" + string(m[1])
	}
	return "an unknown place"
}

// watchdogTimeout bounds, in real time, how long a bubble may run. The
// tests here need milliseconds.
const watchdogTimeout = 5 * time.Second

// inBubble runs f in a synctest bubble, where time is fake and advances only
// when every goroutine in the bubble is durably blocked. A goroutine waiting
// on a sync.Mutex is not durably blocked, so a bubble can hang without any
// report: a real-time watchdog, started outside the bubble, then prints every
// goroutine and ends the test binary.
func inBubble(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	dog := time.AfterFunc(watchdogTimeout, func() {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		fmt.Fprintf(os.Stderr, "%s is stuck; all goroutines:\n\n%s\n", t.Name(), buf)
		panic(fmt.Sprintf("deadlock: %s still running after %v of real time: goroutines are stuck where fake time cannot help, such as waiting for a sync.Mutex", t.Name(), watchdogTimeout))
	})
	defer dog.Stop()
	synctest.Test(t, f)
}
