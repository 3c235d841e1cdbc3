package checksums

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

const (
	// meetWait bounds how long TestSums waits for the workers to be
	// hashing at once.
	meetWait = 2 * time.Second
	// sumsWait bounds every call to Sums.
	sumsWait = 5 * time.Second
)

// errDisk is what an unreadable blob fails with.
var errDisk = errors.New("disk read error")

// A backup is the content of a backup's blobs, by name, and their digests.
type backup struct {
	names []string
	data  map[string][]byte
	want  map[string]string // hex SHA-256, by name
	bad   map[string]bool   // the blobs that cannot be read
}

// newBackup returns a backup of n blobs, of sizes from empty to 70 KB,
// with names of the same length that share a prefix. The blobs whose index
// is in unreadable fail partway with errDisk. With nonEmpty, no blob is
// empty.
func newBackup(n int, nonEmpty bool, unreadable ...int) backup {
	bk := backup{data: map[string][]byte{}, want: map[string]string{}, bad: map[string]bool{}}
	for i := range n {
		name := fmt.Sprintf("pack/%04d.blob", []int{1, 10, 100, 1000, 11, 110, 101}[i%7]+i/7)
		size := []int{0, 1, 4096, 70_000, 33, 32 * 1024, 100}[i%7]
		if nonEmpty {
			size = max(size, 1+i)
		}
		data := make([]byte, size)
		for k := range data {
			data[k] = byte(k*(i+7) + k/251)
		}
		sum := sha256.Sum256(data)
		bk.names = append(bk.names, name)
		bk.data[name] = data
		bk.want[name] = hex.EncodeToString(sum[:])
		if slices.Contains(unreadable, i) {
			bk.bad[name] = true
		}
	}
	return bk
}

// blobs returns the backup's blobs, ready to be read once.
func (bk backup) blobs() []Blob {
	var blobs []Blob
	for _, name := range bk.names {
		var r io.Reader = bytes.NewReader(bk.data[name])
		if bk.bad[name] {
			r = io.MultiReader(strings.NewReader("the first bytes read fine"), iotest.ErrReader(errDisk))
		}
		blobs = append(blobs, Blob{Name: name, Data: r})
	}
	return blobs
}

// TestSums hashes backups with several workers. Every hash's first Write
// waits until as many blobs are being hashed at once as there are workers
// (or blobs, when there are fewer): that proves the hashing itself runs in
// parallel, not only the reading around it.
//
// Every case with more than one worker is in this one test. The race
// detector reports a race between two of Sums's workers once per process,
// since their stacks are the same whichever test runs them: a digest or an
// error lost to such a race in a later test would show as a wrong result,
// without the race that explains it. The first two cases are those where
// the workers' results are sure to meet: one blob per worker, all let
// through the rendezvous at once.
func TestSums(t *testing.T) {
	for _, c := range []struct {
		workers, blobs int
		unreadable     []int
	}{
		{2, 2, nil},
		{3, 3, []int{0, 1, 2}},
		{3, 7, nil},
		{5, 5, nil},
		{4, 3, nil},
		{3, 6, []int{1, 4}},
		{8, 3, []int{1}},
		{2, 7, nil},
	} {
		bk := newBackup(c.blobs, true, c.unreadable...)
		meet := newRendezvous(t, min(c.workers, c.blobs), meetWait)
		ck := &Checker{Workers: c.workers, NewHash: meet.newHash}
		var sums map[string]string
		var err error
		within(t, func() { sums, err = ck.Sums(bk.blobs()) })

		peak, where := meet.most()
		if peak < min(c.workers, c.blobs) {
			t.Fatalf("serialized: with %d workers and %d blobs, at most %d blob(s) were being hashed at a time; want %d at once: the workers must hash in parallel, not take turns (%s)", c.workers, c.blobs, peak, min(c.workers, c.blobs), where)
		}
		checkResult(t, sums, err, bk, c.workers)
	}
}

// TestSumsOneWorker hashes backups with one worker: an empty blob, an
// unreadable one, an empty backup.
func TestSumsOneWorker(t *testing.T) {
	for _, c := range []struct {
		blobs      int
		unreadable []int
	}{
		{7, nil}, {3, []int{1}}, {0, nil},
	} {
		bk := newBackup(c.blobs, false, c.unreadable...)
		ck := &Checker{Workers: 1, NewHash: sha256.New}
		var sums map[string]string
		var err error
		within(t, func() { sums, err = ck.Sums(bk.blobs()) })
		checkResult(t, sums, err, bk, 1)
	}
}

// checkResult fails the test unless Sums returned what it must for bk:
// the digests, or nil and the errors of the unreadable blobs.
func checkResult(t *testing.T, sums map[string]string, err error, bk backup, workers int) {
	t.Helper()
	if len(bk.bad) > 0 {
		checkErrors(t, sums, err, bk)
	} else if err != nil {
		t.Errorf("Sums(%d blobs) with %d workers returned error %v; want none: every blob can be read", len(bk.names), workers, err)
	} else {
		checkSums(t, sums, bk, workers)
	}
}

// checkSums fails the test unless sums holds the digest of every blob of
// bk, and nothing else.
func checkSums(t *testing.T, sums map[string]string, bk backup, workers int) {
	t.Helper()
	for _, name := range bk.names {
		if got, ok := sums[name]; !ok {
			t.Errorf("with %d workers, Sums returned no digest for %s (%d bytes); want %s", workers, name, len(bk.data[name]), bk.want[name])
		} else if got != bk.want[name] {
			t.Errorf("with %d workers, Sums returned digest %s for %s (%d bytes); want %s", workers, got, name, len(bk.data[name]), bk.want[name])
		}
	}
	if len(sums) != len(bk.names) {
		t.Errorf("with %d workers, Sums returned %d digests for %d blobs; want one per blob", workers, len(sums), len(bk.names))
	}
}

// checkErrors fails the test unless Sums returned nil and an error naming
// every unreadable blob of bk.
func checkErrors(t *testing.T, sums map[string]string, err error, bk backup) {
	t.Helper()
	var bad []string
	for _, name := range bk.names {
		if bk.bad[name] {
			bad = append(bad, name)
		}
	}
	if sums != nil {
		t.Errorf("Sums returned %d digests and an error, for %d blobs of which %d cannot be read; want nil digests", len(sums), len(bk.names), len(bad))
	}
	if err == nil {
		t.Errorf("Sums returned no error; want one for each of %s", strings.Join(bad, ", "))
		return
	}
	if !errors.Is(err, errDisk) {
		t.Errorf("Sums's error does not wrap the read error (errors.Is is false); it says:\n%v", err)
	}
	for _, name := range bad {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("Sums's error does not name %s; want the error of every blob that cannot be read (%s):\n%v", name, strings.Join(bad, ", "), err)
		}
	}
}

// within runs sums, which calls Sums, and fails the test if it has not
// returned within sumsWait.
func within(t *testing.T, sums func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		sums()
	}()
	select {
	case <-done:
	case <-time.After(sumsWait):
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("deadlock: Sums has not returned after %v; all goroutines:\n\n%s", sumsWait, buf)
	}
}

// A rendezvous holds back the first Write of every blob's hash until want
// blobs are inside a Write at once, which only workers that hash in
// parallel achieve. When that takes longer than its timeout, it lets every
// Write through and remembers the most blobs it held at once.
//
// It orders the workers before their first Write only: what they do with
// a digest once they have it is still unordered, for the race detector to
// see.
type rendezvous struct {
	want   int             // blobs that must be hashed at once
	all    chan struct{}   // closed when want blobs have arrived
	giveUp <-chan struct{} // closed when the timeout has passed

	mu      sync.Mutex // protects waiting, peak, met, hashAt and waitAt
	waiting int        // blobs held in their first Write now
	peak    int        // the most blobs held at once
	met     bool       // whether all has been closed
	hashAt  string     // where Sums hashes, such as "checksums.go:50"
	waitAt  string     // where workers waited for a lock when the rendezvous gave up
}

// newRendezvous returns a rendezvous for want blobs that gives up after
// timeout.
func newRendezvous(t *testing.T, want int, timeout time.Duration) *rendezvous {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return &rendezvous{want: want, all: make(chan struct{}), giveUp: ctx.Done()}
}

// newHash returns a SHA-256 hash that goes to the rendezvous.
func (m *rendezvous) newHash() hash.Hash {
	return &meetingHash{Hash: sha256.New(), meet: m}
}

// arrive waits until want blobs have arrived, or the timeout has passed.
func (m *rendezvous) arrive() {
	site := callerIn("checksums.go")
	m.mu.Lock()
	if m.hashAt == "" {
		m.hashAt = site
	}
	m.waiting++
	m.peak = max(m.peak, m.waiting)
	if m.waiting >= m.want && !m.met {
		m.met = true
		close(m.all)
	}
	m.mu.Unlock()

	select {
	case <-m.all:
	case <-m.giveUp:
		// Whoever is waiting for a lock in Sums now is what kept the
		// others out.
		if at := lockWaitIn("checksums.go"); at != "" {
			m.mu.Lock()
			m.waitAt = at
			m.mu.Unlock()
		}
	}

	m.mu.Lock()
	m.waiting--
	m.mu.Unlock()
}

// most returns the most blobs that were held at once, and where
// in Sums they were hashed, or where workers waited to hash them.
func (m *rendezvous) most() (peak int, where string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.waitAt != "":
		where = "the other workers were waiting for a lock at " + m.waitAt
	case m.hashAt != "":
		where = "the blobs were hashed at " + m.hashAt
	}
	return m.peak, where
}

// callerIn returns the innermost frame of the calling goroutine that is in
// the file named file, such as "checksums.go:50", or "".
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

// lockWaitIn returns where, in the file named file, a goroutine is waiting
// to lock a sync.Mutex or sync.RWMutex, such as "checksums.go:48", or "".
func lockWaitIn(file string) string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	lines := strings.Split(string(buf), "\n")
	site := regexp.MustCompile(`/` + regexp.QuoteMeta(file) + `:(\d+)`)
	for i, l := range lines {
		// A frame is two lines, the function and its file: the frame
		// after the Lock is the one that called it.
		if !strings.HasPrefix(l, "sync.(*Mutex).Lock(") && !strings.HasPrefix(l, "sync.(*RWMutex).Lock(") && !strings.HasPrefix(l, "sync.(*RWMutex).RLock(") {
			continue
		}
		if i+3 < len(lines) {
			if m := site.FindStringSubmatch(lines[i+3]); m != nil {
				return file + ":" + m[1]
			}
		}
	}
	return ""
}

// A meetingHash is a SHA-256 hash whose first Write goes to the
// rendezvous.
type meetingHash struct {
	hash.Hash
	meet *rendezvous

	mu      sync.Mutex // protects written, should a fix share one hash between workers
	written bool       // whether Write has been called
}

func (h *meetingHash) Write(p []byte) (int, error) {
	h.mu.Lock()
	first := !h.written
	h.written = true
	h.mu.Unlock()
	if first {
		h.meet.arrive()
	}
	return h.Hash.Write(p)
}
