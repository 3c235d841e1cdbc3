package catalogue

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sasha-s/go-deadlock"
)

func init() {
	// go-deadlock's default reaction to a report is os.Exit(2), which ends
	// the test binary before any test can say what happened. Keep the
	// reports instead: every test fails with the ones made while it ran.
	deadlock.Opts.LogBuf = &lockReports
	deadlock.Opts.OnPotentialDeadlock = lockReports.count
	// No reports of long waits: they come from timers that fire after the
	// test that caused them has ended. The tests see frozen calls
	// themselves (goroutines_test.go), whatever mutex the catalogue uses.
	deadlock.Opts.DeadlockTimeout = 0
}

// lockReports holds every report go-deadlock has made in this process.
var lockReports reportLog

// A reportLog collects go-deadlock's reports. go-deadlock writes a report
// to Opts.LogBuf and then calls Opts.OnPotentialDeadlock, on whichever
// goroutine was taking a lock, so the log has its own lock.
type reportLog struct {
	mu   sync.Mutex // protects n and text
	n    int        // reports so far
	text strings.Builder
}

// A logMark is a position in a reportLog.
type logMark struct{ n, len int }

func (r *reportLog) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.text.Write(p)
}

func (r *reportLog) count() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
}

func (r *reportLog) mark() logMark {
	r.mu.Lock()
	defer r.mu.Unlock()
	return logMark{r.n, r.text.Len()}
}

// since returns the number of reports made after m and the text of the
// first one.
func (r *reportLog) since(m logMark) (n int, first string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	const header = "POTENTIAL DEADLOCK:"
	first = r.text.String()[m.len:]
	if i := strings.Index(first[min(len(header), len(first)):], header); i >= 0 {
		first = first[:len(header)+i]
	}
	return r.n - m.n, strings.TrimSpace(first)
}

// checkLocks makes t fail, when it ends, if go-deadlock reported a
// potential deadlock while t ran.
func checkLocks(t *testing.T) {
	m := lockReports.mark()
	t.Cleanup(func() {
		if n, first := lockReports.since(m); n > 0 {
			t.Errorf("deadlock: go-deadlock reported %d potential deadlock(s) while %s ran; want none. The first report:\n%s", n, t.Name(), first)
		}
	})
}

// returns waits for calls to return, and fails t and stops it if they do
// not: they froze on the catalogue's locks, or are still running after
// stuckLimit.
func returns(t *testing.T, calls ...*call) {
	t.Helper()
	if s, ok := wait(calls...); !ok {
		t.Fatal(stallReport(s))
	}
}

// stallReport says, in a tagged failure message, why calls did not return.
func stallReport(s stall) string {
	if !s.frozen {
		tag := "deadlock: "
		for _, g := range s.gs {
			if !g.stuck() {
				tag = "" // busy, not stuck
			}
		}
		return fmt.Sprintf("%s%s still had not returned after %v; want every call to return at once.\n%s", tag, s.names(), stuckLimit, s)
	}
	var reader, writer bool
	for _, g := range s.gs {
		reader = reader || g.state == "sync.RWMutex.RLock"
		writer = writer || g.state == "sync.RWMutex.Lock"
	}
	if reader && writer {
		return fmt.Sprintf("deadlock: %s never returned (read-write-read): a goroutine that already holds the catalogue's read lock asks for it again, "+
			"while Update waits for the write lock. A new RLock waits for a writer that is already waiting, and the writer waits until "+
			"every read lock held is released: neither can ever move.\n%s", s.names(), s)
	}
	return fmt.Sprintf("deadlock: %s never returned: every goroutine in the catalogue's code waits for a lock, so none of them can ever release one.\n%s", s.names(), s)
}

// A testClock tells a fixed time. Every Now first calls onNow, if set, on
// the caller's goroutine: that is how the tests act while a Price call is
// under way.
type testClock struct {
	now   time.Time
	onNow func() // set before the catalogue is used
}

func (c *testClock) Now() time.Time {
	if c.onNow != nil {
		c.onNow()
	}
	return c.now
}

var now = time.Date(2025, 11, 28, 12, 0, 0, 0, time.UTC)

// shop returns the products and promotions of a small tea shop.
func shop() ([]Product, []Promotion) {
	return []Product{
			{SKU: "tea-1", Category: "tea", Price: 1000},
			{SKU: "tea-10", Category: "tea", Price: 1250},
			{SKU: "mug-1", Category: "mugs", Price: 899},
			{SKU: "pot-1", Category: "pots", Price: 4500},
			{SKU: "kettle-1", Category: "kettles", Price: 3999},
			{SKU: "sample-1", Category: "samples", Price: 300},
		}, []Promotion{
			{Category: "tea", Percent: 20, Until: now.Add(time.Hour)},
			{Category: "mugs", Percent: 15, Until: now}, // ended just now
			{Category: "pots", Percent: 33, Until: now.Add(time.Nanosecond)},
			{Category: "samples", Percent: 100, Until: now.Add(24 * time.Hour)},
		}
}

// price calls c.Price(sku) under the tests' bound.
func price(t *testing.T, c *Catalogue, sku string) (int64, error) {
	t.Helper()
	var p int64
	var err error
	returns(t, start(fmt.Sprintf("Price(%q)", sku), func() { p, err = c.Price(sku) }))
	return p, err
}

// discount calls c.Discount(category) under the tests' bound.
func discount(t *testing.T, c *Catalogue, category string) int64 {
	t.Helper()
	var d int64
	returns(t, start(fmt.Sprintf("Discount(%q)", category), func() { d = c.Discount(category) }))
	return d
}

// update calls c.Update under the tests' bound.
func update(t *testing.T, c *Catalogue, products []Product, promos []Promotion) {
	t.Helper()
	returns(t, start("Update", func() { c.Update(products, promos) }))
}

// wantPrices fails t unless c prices each SKU of want as want says.
func wantPrices(t *testing.T, c *Catalogue, want map[string]int64) {
	t.Helper()
	for _, sku := range []string{"tea-1", "tea-10", "mug-1", "pot-1", "kettle-1", "sample-1", "cup-1"} {
		w, ok := want[sku]
		if !ok {
			continue
		}
		got, err := price(t, c, sku)
		if err != nil || got != w {
			t.Errorf("Price(%q) = %d, %v; want %d, nil", sku, got, err, w)
		}
	}
}

func TestPrice(t *testing.T) {
	checkLocks(t)
	products, promos := shop()
	c := New(&testClock{now: now}, products, promos)

	wantPrices(t, c, map[string]int64{
		"tea-1":    800,  // 20% off
		"tea-10":   1000, // 20% off
		"mug-1":    899,  // the promotion ended at now
		"pot-1":    3015, // 33% off 4500 is 3015
		"kettle-1": 3999, // no promotion
		"sample-1": 0,    // 100% off
	})
	for _, sku := range []string{"tea", "tea-2", "", "TEA-1"} {
		if got, err := price(t, c, sku); !errors.Is(err, ErrUnknownProduct) {
			t.Errorf("Price(%q) = %d, %v; want ErrUnknownProduct", sku, got, err)
		}
	}
	for category, want := range map[string]int64{"tea": 20, "mugs": 0, "pots": 33, "kettles": 0, "samples": 100, "cups": 0} {
		if got := discount(t, c, category); got != want {
			t.Errorf("Discount(%q) = %d; want %d", category, got, want)
		}
	}
}

func TestUpdate(t *testing.T) {
	checkLocks(t)
	products, promos := shop()
	c := New(&testClock{now: now}, products, promos)

	update(t, c, []Product{{SKU: "tea-1", Category: "tea", Price: 1500}}, []Promotion{{Category: "tea", Percent: 10, Until: now.Add(time.Hour)}})
	wantPrices(t, c, map[string]int64{"tea-1": 1350, "tea-10": 1125, "mug-1": 899})

	update(t, c, nil, []Promotion{{Category: "mugs", Percent: 50, Until: now.Add(time.Minute)}})
	wantPrices(t, c, map[string]int64{"mug-1": 449, "tea-1": 1350})

	update(t, c, []Product{{SKU: "cup-1", Category: "mugs", Price: 500}, {SKU: "kettle-1", Category: "mugs", Price: 4000}}, nil)
	wantPrices(t, c, map[string]int64{"cup-1": 250, "kettle-1": 2000, "mug-1": 449})
}

// TestPriceWhileUpdating makes an Update arrive while a Price call is
// under way, at the moment the Price call asks the clock for the time,
// and lets the Price call go on only once the Update is running or
// waiting for its lock. Every run takes this path, so a Price call that
// can freeze behind a waiting writer freezes here on every run.
func TestPriceWhileUpdating(t *testing.T) {
	for _, tt := range []struct {
		name     string
		sku      string
		products []Product
		promos   []Promotion
		old, new int64 // the price before and after the update
	}{{
		name:     "new promotion",
		sku:      "tea-1",
		products: []Product{{SKU: "tea-1", Category: "tea", Price: 1500}},
		promos:   []Promotion{{Category: "tea", Percent: 20, Until: now.Add(time.Hour)}},
		old:      1000, new: 1200, // mixed: 800 or 1500
	}, {
		name:     "promotion ends",
		sku:      "mug-1",
		products: []Product{{SKU: "mug-1", Category: "mugs", Price: 1000}},
		promos:   []Promotion{{Category: "mugs", Percent: 50, Until: now}},
		old:      449, new: 1000, // mixed: 899 or 500
	}} {
		t.Run(tt.name, func(t *testing.T) {
			// No checkLocks: this test shows the freeze itself, with any
			// mutex; the other tests report what go-deadlock sees.
			products, _ := shop()
			promos := []Promotion{{Category: "mugs", Percent: 50, Until: now.Add(time.Hour)}}
			clock := &testClock{now: now}
			c := New(clock, products, promos)

			// Every time the Price call asks the time (up to three times),
			// an Update starts; the clock answers once the Update has
			// finished or is parked, waiting for a lock.
			const maxUpdates = 3
			var reader atomic.Int64 // the goroutine of the Price call
			var started atomic.Int32
			updates := make(chan *call, maxUpdates)
			clock.onNow = func() {
				if int64(goid()) != reader.Load() || started.Add(1) > maxUpdates {
					return
				}
				u := start("Update", func() { c.Update(tt.products, tt.promos) })
				updates <- u
				waitParked(u)
			}

			gate := make(chan struct{})
			var got int64
			var err error
			p := startAt(gate, fmt.Sprintf("Price(%q)", tt.sku), func() { got, err = c.Price(tt.sku) })
			reader.Store(int64(p.id))
			close(gate)
			returns(t, p)
			close(updates) // the Price call, which sends, has returned
			var us []*call
			for u := range updates {
				us = append(us, u)
			}
			returns(t, us...)

			if len(us) == 0 {
				t.Errorf("Price(%q) returned without asking the clock the time; want it to check whether the promotion of its category has ended", tt.sku)
			}
			if err != nil || got != tt.old && got != tt.new {
				t.Errorf("Price(%q) = %d, %v while Update changed its list price and its promotion; want %d (before the update) or %d (after it), nil: "+
					"a price must come from one version of the catalogue, not the old list price with the new promotion or the other way round",
					tt.sku, got, err, tt.old, tt.new)
			}
			reader.Store(0)
			wantPrices(t, c, map[string]int64{tt.sku: tt.new})
		})
	}
}

// A meeting lets Price calls through the clock only once all of them are
// asking it the time together, which they can only do if none waits for
// another's lock.
type meeting struct {
	ids     []int         // the goroutines of the Price calls; set before they start
	names   []string      // the Price calls, as the learner reads them
	arrived []atomic.Bool // arrived[i]: call i has asked the time
	n       atomic.Int32  // calls that have asked the time
	all     chan struct{} // closed when every call has asked the time
	blocked atomic.Value  // string: the first call seen waiting for another's lock
	missed  atomic.Value  // string: the first call seen returning without asking the time
	late    atomic.Bool   // a call waited stuckLimit for the others in vain
}

func newMeeting(n int) *meeting {
	return &meeting{arrived: make([]atomic.Bool, n), all: make(chan struct{})}
}

// arrive is the clock's onNow: it returns when every call has arrived, or
// when one of them cannot arrive because it is waiting for a lock (or has
// returned without asking the time).
func (m *meeting) arrive() {
	i := -1
	for j, id := range m.ids {
		if id == goid() {
			i = j
		}
	}
	if i < 0 || m.arrived[i].Swap(true) {
		return
	}
	if int(m.n.Add(1)) == len(m.ids) {
		close(m.all)
	}
	limit := time.After(stuckLimit)
	var b backoff
	for {
		select {
		case <-m.all:
			return
		case <-limit:
			m.late.Store(true)
			return
		case <-b.next():
		}
		if m.blocked.Load() != nil || m.missed.Load() != nil {
			return
		}
		gs := goroutines()
		for j, id := range m.ids {
			if m.arrived[j].Load() {
				continue
			}
			switch g, ok := find(gs, id); {
			case !ok:
				m.missed.CompareAndSwap(nil, m.names[j])
			case g.parked():
				m.blocked.CompareAndSwap(nil, m.names[j])
			}
		}
	}
}

// TestReadersOverlap calls Price from several goroutines at once and
// lets each call go on only when all of them are inside Price together.
func TestReadersOverlap(t *testing.T) {
	for _, skus := range [][]string{{"tea-1", "pot-1"}, {"tea-1", "tea-10", "pot-1", "tea-1"}} {
		t.Run(fmt.Sprint(len(skus)), func(t *testing.T) {
			checkLocks(t)
			clock := &testClock{now: now}
			products, promos := shop()
			c := New(clock, products, promos)
			m := newMeeting(len(skus))
			gate := make(chan struct{})
			got := make([]int64, len(skus))
			errs := make([]error, len(skus))
			calls := make([]*call, len(skus))
			for i, sku := range skus {
				calls[i] = startAt(gate, fmt.Sprintf("Price(%q)", sku), func() { got[i], errs[i] = c.Price(sku) })
				m.ids = append(m.ids, calls[i].id)
				m.names = append(m.names, calls[i].name)
			}
			clock.onNow = m.arrive
			close(gate)
			s, ok := wait(calls...)
			switch who := m.blocked.Load(); {
			case who != nil:
				t.Errorf("serialized: %s waited for another Price call's lock while that call was inside Price; want Price calls to run at the same time: readers must not wait for each other", who)
			case m.late.Load():
				t.Errorf("serialized: a Price call waited %v inside Price for the other %d, and they did not all get there; want Price calls to run at the same time: readers must not wait for each other", stuckLimit, len(skus)-1)
			}
			if !ok {
				t.Fatal(stallReport(s))
			}
			if who := m.missed.Load(); who != nil {
				t.Errorf("%s returned without asking the clock the time; want it to check whether the promotion of its category has ended", who)
			}
			want := map[string]int64{"tea-1": 800, "tea-10": 1000, "pot-1": 3015}
			for i, sku := range skus {
				if errs[i] != nil || got[i] != want[sku] {
					t.Errorf("Price(%q) = %d, %v; want %d, nil", sku, got[i], errs[i], want[sku])
				}
			}
		})
	}
}

// TestConcurrentUse prices products from several goroutines while
// another updates the catalogue back and forth between two versions.
func TestConcurrentUse(t *testing.T) {
	checkLocks(t)
	const readers, rounds, updates = 4, 100, 30
	skus := []string{"tea-1", "tea-10", "mug-1"}
	versions := [2]struct {
		products []Product
		promos   []Promotion
	}{{
		products: []Product{{SKU: "tea-1", Category: "tea", Price: 1000}, {SKU: "tea-10", Category: "tea", Price: 1250}, {SKU: "mug-1", Category: "mugs", Price: 899}},
		promos:   []Promotion{{Category: "tea", Percent: 20, Until: now.Add(time.Hour)}, {Category: "mugs", Percent: 0, Until: now.Add(time.Hour)}},
	}, {
		products: []Product{{SKU: "tea-1", Category: "tea", Price: 2000}, {SKU: "tea-10", Category: "tea", Price: 2500}, {SKU: "mug-1", Category: "mugs", Price: 1000}},
		promos:   []Promotion{{Category: "tea", Percent: 50, Until: now.Add(time.Hour)}, {Category: "mugs", Percent: 10, Until: now.Add(time.Hour)}},
	}}
	// Each version prices tea-1 at 800 or 1000, tea-10 at 1000 or 1250,
	// mug-1 at 899 or 900: any other price mixes the two.
	valid := map[string][2]int64{"tea-1": {800, 1000}, "tea-10": {1000, 1250}, "mug-1": {899, 900}}
	c := New(&testClock{now: now}, versions[0].products, versions[0].promos)

	var calls []*call
	wrong := make([]string, readers)
	for r := range readers {
		calls = append(calls, start(fmt.Sprintf("reader %d's Price calls", r), func() {
			for i := range rounds {
				sku := skus[(r+i)%len(skus)]
				p, err := c.Price(sku)
				if v := valid[sku]; err != nil || p != v[0] && p != v[1] {
					wrong[r] = fmt.Sprintf("Price(%q) = %d, %v; want %d or %d, nil", sku, p, err, v[0], v[1])
					return
				}
			}
		}))
	}
	calls = append(calls, start("the Update calls", func() {
		for i := range updates {
			v := versions[(i+1)%2]
			c.Update(v.products, v.promos)
		}
	}))
	returns(t, calls...)
	for _, w := range wrong {
		if w != "" {
			t.Errorf("while the catalogue was being updated, %s: a price must come from one version of the catalogue", w)
		}
	}
}
