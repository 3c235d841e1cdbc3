package geoip

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	// crowdWait bounds, in real time, how long the loader holds the first
	// load back for the crowd of first callers to be inside Lookup. They
	// are usually there within a millisecond; code whose callers spin
	// instead of waiting only makes the test slower.
	crowdWait = 2 * time.Second
	// stuckWait bounds, in real time, every wait for Lookup to return.
	stuckWait = 5 * time.Second
)

// countries is the test database.
const countries = `
# prefix           country
192.0.2.0/24       NL
192.0.2.128/25     BE
198.51.100.0/24    PT
203.0.113.0/24     JP
2001:db8::/32      DE
2001:db8:1::/48    AT
`

// addresses are the addresses of the test database and their countries.
var addresses = []struct{ ip, country string }{
	{"192.0.2.1", "NL"},
	{"192.0.2.200", "BE"},
	{"198.51.100.7", "PT"},
	{"203.0.113.255", "JP"},
	{"2001:db8::1", "DE"},
	{"2001:db8:1::5", "AT"},
	{"::ffff:192.0.2.129", "BE"},
	{"198.51.100.70", "PT"},
}

func testDatabase(t *testing.T) *Database {
	t.Helper()
	db, err := ParseDatabase(strings.NewReader(countries))
	require.NoError(t, err, "the test database does not parse")
	return db
}

func TestLookupLoadsOnce(t *testing.T) {
	for _, callers := range []int{2, 3, 8} {
		t.Run(fmt.Sprintf("callers=%d", callers), func(t *testing.T) {
			l := &loader{db: testDatabase(t), crowd: callers}
			s := New(l.load)

			ips := make([]string, callers)
			for i := range ips {
				ips[i] = addresses[i%len(addresses)].ip
			}
			results := lookupAtOnce(t, s, ips)
			for i, r := range results {
				want := addresses[i%len(addresses)].country
				if assert.NoError(t, r.err, "Lookup(%q) returned an error, want %q", r.ip, want) {
					assert.Equal(t, want, r.country, "Lookup(%q)", r.ip)
				}
			}
			if calls, most := l.counts(); calls != 1 {
				t.Errorf("race: the database was loaded %d times by %d overlapping first calls of Lookup (at most %d at once, loaded at %s); want exactly once", calls, callers, most, l.calledFrom())
				return
			}

			// Once loaded, the database stays loaded.
			for _, a := range addresses {
				country, err := lookup(t, s, a.ip)
				if assert.NoError(t, err, "Lookup(%q) returned an error, want %q", a.ip, a.country) {
					assert.Equal(t, a.country, country, "Lookup(%q)", a.ip)
				}
			}
			if calls, _ := l.counts(); calls != 1 {
				t.Errorf("the database was loaded %d times; want once: later lookups must use the database the first one loaded", calls)
			}
		})
	}
}

func TestNewDoesNotLoad(t *testing.T) {
	l := &loader{db: testDatabase(t)}
	before := goroutineIDs()
	s := New(l.load)
	started := startedSince(before)
	if calls, _ := l.counts(); calls != 0 {
		t.Errorf("New called the loader (%d calls): it must load the database on the first Lookup, not before: most processes never look anything up", calls)
	}
	if len(started) > 0 {
		t.Errorf("New started %d goroutines: it must not start loading the database, not even in the background, before the first Lookup:\n\n%s", len(started), strings.Join(started, "\n\n"))
	}

	country, err := lookup(t, s, "2001:db8:1::5")
	if assert.NoError(t, err, "Lookup returned an error, want AT") {
		assert.Equal(t, "AT", country, "Lookup(%q)", "2001:db8:1::5")
	}
	if calls, _ := l.counts(); calls != 1 {
		t.Errorf("the database was loaded %d times by one call of Lookup; want once", calls)
	}
}

func TestLookupLoadFails(t *testing.T) {
	errCorrupt := errors.New("countries.db: checksum mismatch")
	const callers = 3
	l := &loader{db: testDatabase(t), err: errCorrupt, crowd: callers}
	s := New(l.load)

	ips := []string{"192.0.2.1", "198.51.100.7", "2001:db8::1"}
	for _, r := range lookupAtOnce(t, s, ips) {
		assert.ErrorIs(t, r.err, errCorrupt, "Lookup(%q) while the database failed to load: want an error that wraps the loader's", r.ip)
	}
	if _, most := l.counts(); most > 1 {
		t.Errorf("race: %d loads of the database ran at the same time (loaded at %s); want at most one at a time", most, l.calledFrom())
	}

	// The database can be loaded now. Whether Lookup tries again or keeps
	// the error of the failed load is up to it; either way it must answer
	// without loading twice at once.
	l.fix()
	country, err := lookup(t, s, "192.0.2.200")
	if err != nil {
		assert.ErrorIs(t, err, errCorrupt, "Lookup after a failed load returned an error that does not wrap the loader's: it must either load again or return the error of the failed load")
		return
	}
	assert.Equal(t, "BE", country, "Lookup(%q) after a failed load, then a successful one", "192.0.2.200")
}

func TestLookupErrors(t *testing.T) {
	l := &loader{db: testDatabase(t)}
	s := New(l.load)
	for _, ip := range []string{"10.0.0.1", "192.0.3.1", "2001:db9::1"} {
		_, err := lookup(t, s, ip)
		assert.ErrorIs(t, err, ErrNotFound, "Lookup(%q) of an address in no block: want ErrNotFound", ip)
	}
	for _, ip := range []string{"", "192.0.2", "not an address"} {
		_, err := lookup(t, s, ip)
		if assert.Error(t, err, "Lookup(%q) of a malformed address: want an error", ip) {
			assert.NotErrorIs(t, err, ErrNotFound, "Lookup(%q) of a malformed address: want an error that says it is malformed, not ErrNotFound", ip)
		}
	}
}

func TestLoadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "countries.txt")
	require.NoError(t, os.WriteFile(path, []byte(countries), 0o644))
	s := New(LoadFile(path))
	for _, a := range addresses {
		country, err := lookup(t, s, a.ip)
		if assert.NoError(t, err, "Lookup(%q) returned an error, want %q", a.ip, a.country) {
			assert.Equal(t, a.country, country, "Lookup(%q)", a.ip)
		}
	}
	_, err := New(LoadFile(path + ".missing")).Lookup("192.0.2.1")
	assert.ErrorIs(t, err, os.ErrNotExist, "Lookup with a database file that does not exist")
}

// A loader loads the test database for a Service, and counts its calls.
//
// With a crowd, it holds the first load back until that many callers are
// inside Lookup at once: every one of them either in a load of its own, or
// parked, waiting for the first (in sync.Once, on a mutex, on a channel).
// Only then can a test tell code that loads once from code that loads once
// per caller who found no database yet. Callers blocked on a mutex are not
// durably blocked, so no synctest bubble can see them wait; the loader
// reads every goroutine's state from the runtime instead, for at most
// crowdWait of real time.
type loader struct {
	db    *Database
	crowd int // callers to wait for in the first load, if more than 1

	mu       sync.Mutex // protects the fields below
	err      error      // what loads fail with, until fix
	calls    int        // loads started
	inFlight int        // loads running now
	most     int        // the most loads that ran at once
	site     string     // where the package under test called the first load, such as "geoip.go:40"
	held     chan struct{}
}

func (l *loader) load() (*Database, error) {
	site := callSite()
	l.mu.Lock()
	if l.calls == 0 {
		l.site = site
	}
	l.calls++
	l.inFlight++
	l.most = max(l.most, l.inFlight)
	first := l.calls == 1
	if l.held == nil {
		l.held = make(chan struct{})
	}
	held := l.held
	l.mu.Unlock()

	if l.crowd > 1 {
		if first && onBehalfOfLookup() {
			// Whatever else loads while this one waits waits too, so that
			// duplicate loads overlap and are all counted.
			waitForCrowd(l.crowd)
			close(held)
		} else if !first {
			<-held
		}
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	l.inFlight--
	if l.err != nil {
		return nil, l.err
	}
	return l.db, nil
}

// fix makes the loads that start from now on succeed.
func (l *loader) fix() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.err = nil
}

// counts returns the loads started so far, and the most that ran at once.
func (l *loader) counts() (calls, most int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls, l.most
}

// calledFrom returns where the package under test called the first load.
func (l *loader) calledFrom() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.site
}

// callSite returns the file and line, such as "geoip.go:40", of the
// innermost caller in the package under test outside its tests, or "".
func callSite() string {
	pcs := make([]uintptr, 32)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		f, more := frames.Next()
		if strings.HasPrefix(f.Function, packagePath+".") && !strings.HasSuffix(f.File, "_test.go") {
			return fmt.Sprintf("%s:%d", filepath.Base(f.File), f.Line)
		}
		if !more {
			return ""
		}
	}
}

// A result is what one call of Lookup returned.
type result struct {
	ip, country string
	err         error
}

// lookupAtOnce calls s.Lookup(ips[i]) from a goroutine of its own for
// every i, all at once, and returns what each returned.
func lookupAtOnce(t *testing.T, s *Service, ips []string) []result {
	t.Helper()
	done := make(chan struct {
		i int
		r result
	}, len(ips))
	for i, ip := range ips {
		go func() {
			country, err := s.Lookup(ip)
			done <- struct {
				i int
				r result
			}{i, result{ip, country, err}}
		}()
	}
	results := make([]result, len(ips))
	timeout := time.After(stuckWait)
	for range ips {
		select {
		case d := <-done:
			results[d.i] = d.r
		case <-timeout:
			t.Fatalf("deadlock: %d goroutines called Lookup at once, and not all returned within %v; all goroutines:\n\n%s", len(ips), stuckWait, allStacks())
		}
	}
	return results
}

// lookup calls s.Lookup(ip), and fails the test if it does not return
// within stuckWait.
func lookup(t *testing.T, s *Service, ip string) (string, error) {
	t.Helper()
	r := lookupAtOnce(t, s, []string{ip})[0]
	return r.country, r.err
}

// waitForCrowd waits, for at most crowdWait, until n goroutines are inside
// Service.Lookup, counting the one that calls it: the others must be
// parked (not running or runnable) with Lookup on their stacks.
func waitForCrowd(n int) {
	deadline := time.Now().Add(crowdWait)
	// Each look stops the world for a moment: look often at first, when
	// the callers are usually all there, then less and less often.
	for pause := 100 * time.Microsecond; time.Now().Before(deadline); pause = min(2*pause, 5*time.Millisecond) {
		parked := 0
		for _, g := range goroutines() {
			if g.parked() && strings.Contains(g.stack, lookupFrame) {
				parked++
			}
		}
		if parked >= n-1 {
			return
		}
		time.Sleep(pause)
	}
}

// onBehalfOfLookup reports whether the calling goroutine runs Lookup, or
// was started by it. A load started anywhere else, such as by New, has no
// crowd of callers to wait for.
func onBehalfOfLookup() bool {
	buf := make([]byte, 64<<10)
	return strings.Contains(string(buf[:runtime.Stack(buf, false)]), funcName((*Service).Lookup))
}

// lookupFrame is how (*Service).Lookup shows in a goroutine's stack.
var lookupFrame = funcName((*Service).Lookup) + "("

// packagePath is the import path of the package under test, as it shows
// in stacks.
var packagePath = strings.TrimSuffix(funcName(New), ".New")

func funcName(f any) string {
	return runtime.FuncForPC(reflect.ValueOf(f).Pointer()).Name()
}

// A goroutine is one goroutine of a stack dump.
type goroutine struct {
	id    string // "goroutine 7"
	state string // "running", "chan receive", "sync.Mutex.Lock", ...
	stack string // the whole entry, header included
}

// parked reports whether g waits for another goroutine: on a channel, a
// lock, a WaitGroup, a Cond, or in time.Sleep. (Running, ready to run, or
// waiting for the runtime, such as the garbage collector, is not parked.)
func (g goroutine) parked() bool {
	switch strings.TrimSuffix(g.state, " (durable)") {
	case "chan receive", "chan send", "select", "chan receive (nil chan)", "chan send (nil chan)", "select (no cases)",
		"sync.Mutex.Lock", "sync.RWMutex.Lock", "sync.RWMutex.RLock", "sync.Cond.Wait", "sync.WaitGroup.Wait",
		"semacquire", "sleep":
		return true
	}
	return false
}

// goroutines returns every goroutine, as the runtime describes them.
func goroutines() []goroutine {
	var gs []goroutine
	for _, entry := range strings.Split(string(allStacks()), "\n\n") {
		header, _, _ := strings.Cut(entry, "\n")
		id, state, ok := strings.Cut(header, " [")
		if !ok || !strings.HasPrefix(id, "goroutine ") {
			continue
		}
		state, _, _ = strings.Cut(strings.TrimSuffix(state, "]:"), ",")
		gs = append(gs, goroutine{id, state, entry})
	}
	return gs
}

// goroutineIDs returns the ids of every goroutine alive now.
func goroutineIDs() map[string]bool {
	ids := make(map[string]bool)
	for _, g := range goroutines() {
		ids[g.id] = true
	}
	return ids
}

// startedSince returns the stacks of the goroutines of the package under
// test that are alive now and were not among before.
func startedSince(before map[string]bool) []string {
	var started []string
	for _, g := range goroutines() {
		if !before[g.id] && strings.Contains(g.stack, packagePath+".") {
			started = append(started, g.stack)
		}
	}
	return started
}

// allStacks returns the stacks of every goroutine.
func allStacks() []byte {
	for size := 64 << 10; ; size *= 2 {
		buf := make([]byte, size)
		if n := runtime.Stack(buf, true); n < size {
			return buf[:n]
		}
	}
}
