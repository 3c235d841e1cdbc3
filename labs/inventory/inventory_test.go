package inventory

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	// meetWait bounds, in real time, how long a rendezvous waits for
	// charges to overlap. Checkouts that charge in parallel meet within
	// milliseconds; once a wait has run out, checkouts are serialized and
	// every later rendezvous gives up at once, so serialized code fails in
	// seconds, not once per test.
	meetWait = 2 * time.Second
	// stuckWait bounds, in real time, every wait for checkouts to return.
	stuckWait = 5 * time.Second
)

var errDeclined = errors.New("card declined")

// A gateway is a Payments that charges from memory.
//
// It orders nothing between checkouts once it has let their charges go: a
// gateway with a rendezvous releases the charges it held back all at once,
// and they return without touching anything shared, so the race detector
// sees what the checkouts do next as concurrent on every run.
type gateway struct {
	declined map[string]error // read-only: the customers whose charges fail, and how
	// meet, if set, holds back the first charges until enough of them
	// are in flight at once.
	meet *rendezvous
	// hold, if set, makes every charge wait until ctx is done.
	hold bool
	// entered, if set, receives the customer of every charge that got
	// past the check of ctx. It must have room for every charge.
	entered chan<- string

	mu      sync.Mutex       // protects charged
	charged map[string]int64 // cents asked of each customer, recorded when the charge starts
}

func (g *gateway) Charge(ctx context.Context, customer string, cents int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	g.mu.Lock()
	if g.charged == nil {
		g.charged = make(map[string]int64)
	}
	g.charged[customer] += cents
	g.mu.Unlock()
	if g.entered != nil {
		g.entered <- customer
	}
	if g.meet != nil {
		g.meet.arrive()
	}
	if g.hold {
		<-ctx.Done()
		return ctx.Err()
	}
	return g.declined[customer]
}

// charges returns the cents asked of each customer so far.
func (g *gateway) charges() map[string]int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return maps.Clone(g.charged)
}

func TestCheckoutsAtOnce(t *testing.T) {
	onHand := map[string]int{"mug": 10, "tee": 6, "cap": 4, "cape": 2}
	orders := []Order{
		{"alice", "mug", 3, 1200},
		{"bob", "tee", 2, 2500},
		{"carol", "mug", 2, 1200}, // declined: her mugs go back on sale
		{"dave", "cap", 4, 1800},
		{"erin", "tee", 1, 2500},
		{"frank", "mug", 5, 1200},
		{"grace", "cape", 2, 4000}, // declined
	}
	declined := map[string]error{"carol": errDeclined, "grace": errDeclined}
	meet := newRendezvous(len(orders))
	gw := &gateway{declined: declined, meet: meet}
	shop := &Shop{Stock: NewStock(onHand), Payments: gw}

	outcomes := checkoutAtOnce(t, context.Background(), shop, orders)
	meet.check(t, len(orders))
	for _, o := range outcomes {
		if declined[o.Customer] != nil {
			assert.ErrorIs(t, o.err, errDeclined, "%s's card was declined: Checkout must return an error that wraps the payment's", o.Customer)
			continue
		}
		assert.NoError(t, o.err, "Checkout(%s: %d %s) returned an error, want none: there are enough in stock", o.Customer, o.Quantity, o.SKU)
	}
	checkLeft(t, outcomes, onHand)
	checkStock(t, shop, onHand, outcomes)
	checkCharged(t, gw, orders)
}

func TestCheckoutLastUnits(t *testing.T) {
	for _, units := range []int{1, 3, 5} {
		t.Run(fmt.Sprintf("units=%d", units), func(t *testing.T) {
			onHand := map[string]int{"lamp": units}
			var orders []Order
			for i := range units + 3 {
				orders = append(orders, Order{fmt.Sprintf("customer%d", i), "lamp", 1, 4900})
			}
			// As many checkouts as there are lamps get one: they all charge
			// their customers at once, and the others find none left.
			meet := newRendezvous(units)
			gw := &gateway{meet: meet}
			shop := &Shop{Stock: NewStock(onHand), Payments: gw}

			outcomes := checkoutAtOnce(t, context.Background(), shop, orders)
			meet.check(t, units)
			sold := 0
			for _, o := range outcomes {
				switch {
				case o.err == nil:
					sold++
				case !errors.Is(o.err, ErrOutOfStock):
					t.Errorf("Checkout(%s: 1 lamp) returned %v, want nil or an error that wraps ErrOutOfStock", o.Customer, o.err)
				}
			}
			if sold != units {
				t.Errorf("race: %d checkouts sold a lamp, want %d: there were %d lamps, and %d customers asked for one at the same time", sold, units, units, len(orders))
			}
			if n := len(gw.charges()); n != units {
				t.Errorf("race: %d customers were charged for a lamp, want %d: there were %d lamps, and a checkout that finds none left must not charge", n, units, units)
			}
			checkLeft(t, outcomes, onHand)
			checkStock(t, shop, onHand, outcomes)
		})
	}
}

func TestCheckoutCancelled(t *testing.T) {
	onHand := map[string]int{"mug": 10, "tee": 6}
	orders := []Order{{"alice", "mug", 3, 1200}, {"bob", "tee", 2, 2500}, {"carol", "mug", 7, 1200}}

	t.Run("before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		shop := &Shop{Stock: NewStock(onHand), Payments: &gateway{}}
		for _, o := range checkoutAtOnce(t, ctx, shop, orders) {
			assert.ErrorIs(t, o.err, context.Canceled, "Checkout(%s) with ctx cancelled: want an error that wraps ctx's", o.Customer)
		}
		checkStock(t, shop, onHand, nil)
	})

	t.Run("during", func(t *testing.T) {
		entered := make(chan string, len(orders))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		shop := &Shop{Stock: NewStock(onHand), Payments: &gateway{hold: true, entered: entered}}
		wait := startCheckouts(t, ctx, shop, orders)
		giveUp, lostBefore := time.After(meetWait), patienceLost()
		for charging := 0; charging < len(orders); charging++ {
			select {
			case <-entered:
				continue
			default:
			}
			select {
			case <-entered:
				continue
			case <-giveUp:
				patience.once.Do(func() { close(patience.lost) })
			case <-patience.lost:
			}
			if lostBefore {
				t.Errorf("serialized: the checkouts did not charge %d customers at the same time (not measured again: an earlier test found that they do not overlap)", len(orders))
			} else {
				t.Errorf("serialized: only %d of %d checkouts were charging their customers at the same time: the stock must not stay locked while a customer is charged", charging, len(orders))
			}
			break
		}
		cancel()
		for _, o := range wait() {
			assert.ErrorIs(t, o.err, context.Canceled, "Checkout(%s) whose charge was cut short by ctx: want an error that wraps ctx's", o.Customer)
		}
		checkStock(t, shop, onHand, nil)
	})
}

func TestCheckoutErrors(t *testing.T) {
	onHand := map[string]int{"mug": 2}
	gw := &gateway{declined: map[string]error{"mallory": errDeclined}}
	shop := &Shop{Stock: NewStock(onHand), Payments: gw}
	for _, tc := range []struct {
		order Order
		want  error
	}{
		{Order{"alice", "mug", 3, 1200}, ErrOutOfStock},
		{Order{"alice", "vase", 1, 1200}, ErrOutOfStock},
		{Order{"mallory", "mug", 2, 1200}, errDeclined},
	} {
		o := checkoutAtOnce(t, context.Background(), shop, []Order{tc.order})[0]
		assert.ErrorIs(t, o.err, tc.want, "Checkout(%s: %d %s)", o.Customer, o.Quantity, o.SKU)
	}
	for _, quantity := range []int{0, -1} {
		o := checkoutAtOnce(t, context.Background(), shop, []Order{{"alice", "mug", quantity, 1200}})[0]
		assert.Error(t, o.err, "Checkout of %d mugs: want an error", quantity)
	}
	assert.Equal(t, map[string]int64{"mallory": 2400}, gw.charges(), "only an order that could be reserved is charged")
	checkStock(t, shop, onHand, nil)

	o := checkoutAtOnce(t, context.Background(), shop, []Order{{"bob", "mug", 2, 1200}})[0]
	require.NoError(t, o.err, "Checkout of the last 2 mugs, after the failed checkouts put them back on sale")
	assert.Equal(t, 0, o.left, "Checkout of the last 2 mugs: units left")
}

func TestStock(t *testing.T) {
	s := NewStock(map[string]int{"mug": 5, "tee": 1})
	assert.Equal(t, 5, s.Available("mug"), "Available(mug) of a new stock")
	assert.Equal(t, 0, s.Available("vase"), "Available of a product the stock never held")

	require.NoError(t, s.Reserve("mug", 3), "Reserve(mug, 3) of 5")
	assert.Equal(t, 2, s.Available("mug"), "Available(mug) after reserving 3 of 5")
	assert.ErrorIs(t, s.Reserve("mug", 3), ErrOutOfStock, "Reserve(mug, 3) with 2 available")
	assert.Equal(t, 2, s.Available("mug"), "Available(mug) after a reservation that failed")
	assert.ErrorIs(t, s.Reserve("vase", 1), ErrOutOfStock, "Reserve of a product the stock never held")

	s.Release("mug", 3)
	assert.Equal(t, 5, s.Available("mug"), "Available(mug) after releasing the 3 reserved")
	require.NoError(t, s.Reserve("mug", 2), "Reserve(mug, 2) of 5")
	s.Ship("mug", 2)
	assert.Equal(t, 3, s.Available("mug"), "Available(mug) after shipping 2 of 5")
	require.NoError(t, s.Reserve("tee", 1), "Reserve(tee, 1) of 1")
	s.Ship("tee", 1)
	assert.Equal(t, 0, s.Available("tee"), "Available(tee) after shipping the only one")
}

// An outcome is an order and what Checkout returned for it.
type outcome struct {
	Order
	left int
	err  error
}

// checkoutAtOnce checks every order out from a goroutine of its own, all
// at once, and returns what Checkout returned for each.
func checkoutAtOnce(t *testing.T, ctx context.Context, shop *Shop, orders []Order) []outcome {
	t.Helper()
	return startCheckouts(t, ctx, shop, orders)()
}

// startCheckouts starts checking out every order from a goroutine of its
// own, all at once. The function it returns, to be called from the test's
// goroutine, waits for every Checkout to return, and fails the test if
// they have not within stuckWait.
func startCheckouts(t *testing.T, ctx context.Context, shop *Shop, orders []Order) (wait func() []outcome) {
	t.Helper()
	requireRaceDetector(t)
	start := make(chan struct{})
	done := make(chan struct {
		i int
		o outcome
	}, len(orders))
	for i, o := range orders {
		go func() {
			<-start
			left, err := shop.Checkout(ctx, o)
			done <- struct {
				i int
				o outcome
			}{i, outcome{o, left, err}}
		}()
	}
	close(start)
	return func() []outcome {
		t.Helper()
		outcomes := make([]outcome, len(orders))
		timeout := time.After(stuckWait)
		for range orders {
			select {
			case d := <-done:
				outcomes[d.i] = d.o
			case <-timeout:
				t.Fatalf("deadlock: %d checkouts started at once, and not all returned within %v; all goroutines:\n\n%s", len(orders), stuckWait, allStacks())
			}
		}
		return outcomes
	}
}

// checkStock fails the test unless the stock holds what onHand held, less
// what the checkouts that succeeded sold.
func checkStock(t *testing.T, shop *Shop, onHand map[string]int, outcomes []outcome) {
	t.Helper()
	want := maps.Clone(onHand)
	for _, o := range outcomes {
		if o.err == nil {
			want[o.SKU] -= o.Quantity
		}
	}
	for _, sku := range slices.Sorted(maps.Keys(want)) {
		if got := shop.Stock.Available(sku); got != want[sku] {
			t.Errorf("race: %d units of %s are available after the checkouts, want %d: %d were in stock, and the checkouts that succeeded sold %d. Checkouts that count at the same time overwrite each other's counts",
				got, sku, want[sku], onHand[sku], onHand[sku]-want[sku])
		}
	}
}

// checkLeft fails the test unless every checkout that succeeded said it
// left between 0 and the units in stock.
func checkLeft(t *testing.T, outcomes []outcome, onHand map[string]int) {
	t.Helper()
	for _, o := range outcomes {
		if o.err == nil && (o.left < 0 || o.left > onHand[o.SKU]-o.Quantity) {
			t.Errorf("race: Checkout(%s: %d %s) said %d were left, out of %d in stock: checkouts that count at the same time overwrite each other's counts", o.Customer, o.Quantity, o.SKU, o.left, onHand[o.SKU])
		}
	}
}

// checkCharged fails the test unless every customer was charged for their
// order, once.
func checkCharged(t *testing.T, gw *gateway, orders []Order) {
	t.Helper()
	want := make(map[string]int64)
	for _, o := range orders {
		want[o.Customer] += int64(o.Quantity) * o.Price
	}
	assert.Equal(t, want, gw.charges(), "cents charged to each customer: every order is charged its quantity times its price, once")
}

// requireRaceDetector stops the test unless it runs under the race
// detector. Without it, the lab's bug may pass by luck, or crash the test
// binary with "fatal error: concurrent map writes".
func requireRaceDetector(t *testing.T) {
	t.Helper()
	if !raceDetector {
		t.Fatal("this lab's bug is a data race, and only the race detector finds one on every run: without it the tests pass or crash by luck. Run: go test -race ./labs/inventory")
	}
}

// A rendezvous holds back the first charges until want of them are in
// flight at once, which only checkouts that charge in parallel achieve.
// When that takes longer than meetWait, it lets every charge through,
// remembers how many were in flight, and makes every later rendezvous give
// up at once.
//
// It orders the charges it holds back only up to their release, which is
// one close of a channel: what the checkouts do after that is unordered,
// for the race detector to see.
type rendezvous struct {
	want   int              // charges that must meet
	all    chan struct{}    // closed when want charges are in flight at once
	giveUp <-chan time.Time // fires after meetWait

	mu       sync.Mutex // protects arrived, together and met
	arrived  int        // charges that have arrived so far
	together int        // the first charges that arrived before anyone gave up
	met      bool       // want charges were in flight at once
}

// patience is closed when a rendezvous has waited meetWait in vain: from
// then on, every rendezvous gives up at once.
var patience = struct {
	once sync.Once
	lost chan struct{}
}{lost: make(chan struct{})}

func patienceLost() bool {
	select {
	case <-patience.lost:
		return true
	default:
		return false
	}
}

// newRendezvous returns a rendezvous for want charges.
func newRendezvous(want int) *rendezvous {
	return &rendezvous{want: want, all: make(chan struct{}), giveUp: time.After(meetWait)}
}

// arrive holds back the first want charges until all of them have
// arrived, or patience is lost; later charges pass straight through.
func (m *rendezvous) arrive() {
	m.mu.Lock()
	m.arrived++
	first := m.arrived <= m.want
	// A charge that must wait for others counts only while patience
	// lasts; one that need not wait is always in time.
	if first && (m.want == 1 || !patienceLost()) {
		m.together++
		if m.together == m.want {
			m.met = true
			close(m.all)
		}
	}
	m.mu.Unlock()
	if !first {
		return
	}
	select {
	case <-m.all:
	case <-patience.lost:
	case <-m.giveUp:
		patience.once.Do(func() { close(patience.lost) })
	}
}

// check fails the test, and returns false, unless the rendezvous was met.
func (m *rendezvous) check(t *testing.T, checkouts int) bool {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.met:
		return true
	case m.together == 0:
		t.Errorf("serialized: the checkouts did not charge %d customers at the same time (not measured again: an earlier test found that they do not overlap)", m.want)
	default:
		t.Errorf("serialized: only %d of %d checkouts were charging their customers at the same time, want %d: the stock must not stay locked while a customer is charged", m.together, checkouts, m.want)
	}
	return false
}

// allStacks returns the stacks of every goroutine.
func allStacks() []byte {
	buf := make([]byte, 1<<20)
	return buf[:runtime.Stack(buf, true)]
}
