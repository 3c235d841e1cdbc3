package geocoder

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// known are addresses the test service finds. Several share a prefix and a
// length; none is part of another.
var known = []string{
	"Rue de Rivoli 1, Paris", "Rue de Rivoli 10, Paris", "Rue de Rivoli 11, Paris",
	"Rue de Rivoli 101, Paris", "Rue de la Paix 2, Paris", "Rue de la Paix 20, Paris",
	"Avenue Foch 5, Paris", "Avenue Foch 50, Paris", "Quai d'Orsay 37, Paris",
	"Boulevard Haussmann 40, Paris", "Place Vendome 12, Paris", "Rue Cler 8, Paris",
}

// nowhere are addresses the test service finds no match for.
var nowhere = []string{
	"Impasse Introuvable 1, Paris", "Impasse Introuvable 2, Paris", "Impasse Introuvable 3, Paris",
	"Impasse Introuvable 4, Paris", "Impasse Introuvable 5, Paris",
}

// errNoMatch is the test service's error for an address it cannot find.
var errNoMatch = errors.New("atlas: no match for this address")

// pointOf is where the test service puts address: a different point for
// every address.
func pointOf(address string) Point {
	h := fnv.New64a()
	h.Write([]byte(address))
	n := h.Sum64()
	return Point{Lat: float64(n%180_000)/1000 - 90, Lon: float64(n/180_000%360_000)/1000 - 180}
}

// An atlas is the test's Service. Each lookup takes its address's delay
// of fake time, or gives up when ctx is done. Its fields are only read
// while Geocode runs, so it adds no synchronization between the goroutines
// that call it.
type atlas struct {
	delay map[string]time.Duration // how long each address takes to look up
	// When the lookup of probe finishes, the atlas sends on sites where
	// Geocode's own goroutine is waiting then, if it can tell.
	probe string
	sites chan string
}

func (a *atlas) Lookup(ctx context.Context, address string) (Point, error) {
	select {
	case <-time.After(a.delay[address]):
	case <-ctx.Done():
		return Point{}, ctx.Err()
	}
	if address == a.probe {
		select {
		case a.sites <- geocodeWaitSite():
		default:
		}
	}
	for _, bad := range nowhere {
		if address == bad {
			return Point{}, errNoMatch
		}
	}
	return pointOf(address), nil
}

// batch returns n addresses of known, in the order of the list (wrapping
// round, so that a long batch has duplicates), with those at the indexes
// in bad replaced by addresses the service cannot find.
func batch(n int, bad ...int) []string {
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = known[i%len(known)]
	}
	for k, i := range bad {
		addrs[i] = nowhere[k]
	}
	return addrs
}

// fastestLast returns an atlas on which the addresses of addrs take the
// longer to look up the earlier they are: 100ms for the last, 200ms for
// the one before, and so on. Lookups started together finish in the
// reverse of their order.
func fastestLast(addrs []string, workers int) *atlas {
	a := &atlas{delay: map[string]time.Duration{}, sites: make(chan string, 1)}
	for i, addr := range addrs {
		a.delay[addr] = time.Duration(len(addrs)-i) * 100 * time.Millisecond
	}
	if len(addrs) > 0 {
		// Of the first lookups, which start together, the last finishes first.
		a.probe = addrs[min(workers, len(addrs))-1]
	}
	return a
}

// TestGeocodeKeepsOrder geocodes batches whose later addresses are looked
// up faster, so that the lookups finish in another order than the
// addresses', with 1 to 7 workers.
func TestGeocodeKeepsOrder(t *testing.T) {
	for _, c := range []struct{ workers, addrs int }{
		{2, 2}, {2, 7}, {3, 10}, {7, 7}, {7, 3}, {1, 5}, {4, 15}, {3, 0},
	} {
		inBubble(t, func(t *testing.T) {
			addrs := batch(c.addrs)
			a := fastestLast(addrs, c.workers)
			points, err := (&Geocoder{Service: a, Workers: c.workers}).Geocode(t.Context(), addrs)
			if err != nil {
				t.Fatalf("Geocode(%d addresses) with %d workers returned error %v, want none: every address can be found", c.addrs, c.workers, err)
			}
			checkPoints(t, c.workers, addrs, points, a, "; here the later addresses are looked up faster")
			time.Sleep(time.Minute) // let any straggler finish: the bubble reports goroutines left blocked
		})
	}
}

// TestGeocodeOverlaps geocodes batches whose lookups all take 100ms and
// checks that Geocode took exactly as long as Workers lookups at a time
// take.
func TestGeocodeOverlaps(t *testing.T) {
	const delay = 100 * time.Millisecond
	for _, c := range []struct{ workers, addrs int }{
		{1, 4}, {2, 2}, {2, 7}, {3, 10}, {7, 7}, {8, 3}, {2, 0},
	} {
		inBubble(t, func(t *testing.T) {
			addrs := batch(c.addrs)
			a := &atlas{delay: map[string]time.Duration{}}
			for _, addr := range addrs {
				a.delay[addr] = delay
			}
			start := time.Now()
			points, err := (&Geocoder{Service: a, Workers: c.workers}).Geocode(t.Context(), addrs)
			elapsed := time.Since(start)
			want := time.Duration((c.addrs+c.workers-1)/c.workers) * delay
			switch {
			case elapsed > want:
				t.Errorf("serialized: Geocode(%d addresses) with %d workers took %v of fake time, want %v: each lookup takes %v, so %d at a time take %v, and one at a time %v",
					c.addrs, c.workers, elapsed, want, delay, c.workers, want, time.Duration(c.addrs)*delay)
			case elapsed < want:
				t.Errorf("overspawn: Geocode(%d addresses) with %d workers took %v of fake time, want %v: each lookup takes %v, so more than %d lookups ran at once, beyond what the provider allows",
					c.addrs, c.workers, elapsed, want, delay, c.workers)
			}
			if err != nil {
				t.Fatalf("Geocode(%d addresses) with %d workers returned error %v, want none: every address can be found", c.addrs, c.workers, err)
			}
			checkPoints(t, c.workers, addrs, points, nil, "; here every lookup takes 100ms")
			time.Sleep(time.Minute)
		})
	}
}

// TestGeocodeErrors geocodes batches in which some addresses cannot be
// found, and looked up faster the later they are: Geocode must return the
// error of the first failing address in the order of the addresses, not
// the first to fail.
func TestGeocodeErrors(t *testing.T) {
	for _, c := range []struct {
		workers, addrs int
		bad            []int
	}{
		{6, 6, []int{1, 4}},
		{8, 5, []int{0, 4}},
		{2, 5, []int{0, 3}},
		{3, 4, []int{0, 1, 2, 3}},
		{1, 3, []int{2}},
		{7, 12, []int{9, 2, 11}},
	} {
		inBubble(t, func(t *testing.T) {
			addrs := batch(c.addrs, c.bad...)
			a := fastestLast(addrs, c.workers)
			start := time.Now()
			points, err := (&Geocoder{Service: a, Workers: c.workers}).Geocode(t.Context(), addrs)
			elapsed := time.Since(start)

			first := slices.Min(c.bad)
			what := fmt.Sprintf("Geocode(%d addresses) with %d workers, where addresses %v cannot be found", c.addrs, c.workers, c.bad)
			if points != nil {
				t.Errorf("%s returned %d points, want nil with the error", what, len(points))
			}
			switch {
			case err == nil:
				t.Errorf("%s returned no error, want the error of addrs[%d] (%q): the first of them in the order of the addresses", what, first, addrs[first])
			case !errors.Is(err, errNoMatch):
				t.Errorf("%s returned an error that does not wrap the service's error (errors.Is is false): %v", what, err)
			case !strings.Contains(err.Error(), addrs[first]):
				t.Errorf("%s returned the error %q, want the error of addrs[%d] (%q): the first failing address in the order of the addresses, as Python's executor.map raises the exception of the first failing item, whichever failed first in time",
					what, err, first, addrs[first])
			}
			if c.workers >= c.addrs {
				// Every lookup starts at once; the first address takes longest.
				switch want := time.Duration(c.addrs) * 100 * time.Millisecond; {
				case elapsed > want:
					t.Errorf("serialized: %s returned after %v of fake time, want %v: with a worker for every address, the lookups run all at once, and the slowest takes %v", what, elapsed, want, want)
				case elapsed < want:
					t.Errorf("leak: %s returned after %v of fake time, want %v: Geocode returns only once every lookup it started has returned, and the slowest takes %v", what, elapsed, want, want)
				}
			}
			time.Sleep(time.Minute)
		})
	}
}

// TestGeocodeCancelled geocodes with a context cancelled before Geocode is
// called, and one cancelled while lookups run.
func TestGeocodeCancelled(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		addrs := batch(5)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		start := time.Now()
		points, err := (&Geocoder{Service: fastestLast(addrs, 2), Workers: 2}).Geocode(ctx, addrs)
		if !errors.Is(err, context.Canceled) || points != nil {
			t.Errorf("Geocode with a cancelled context returned %d points and error %v, want nil and an error that wraps context.Canceled", len(points), err)
		}
		if elapsed := time.Since(start); elapsed != 0 {
			t.Errorf("Geocode with a cancelled context took %v of fake time, want 0: every lookup fails at once", elapsed)
		}
		time.Sleep(time.Minute)
	})
	inBubble(t, func(t *testing.T) {
		addrs := batch(6)
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(250*time.Millisecond, cancel) // two lookups have returned by then
		start := time.Now()
		points, err := (&Geocoder{Service: fastestLast(addrs, 6), Workers: 6}).Geocode(ctx, addrs)
		if !errors.Is(err, context.Canceled) || points != nil {
			t.Errorf("Geocode cancelled after 250ms returned %d points and error %v, want nil and an error that wraps context.Canceled", len(points), err)
		}
		if elapsed := time.Since(start); elapsed != 250*time.Millisecond {
			t.Errorf("Geocode cancelled after 250ms returned after %v of fake time, want 250ms: the lookups still running then fail at once", elapsed)
		}
		time.Sleep(time.Minute)
	})
}

// checkPoints fails the test unless points are the points of addrs, in
// order. When a is not nil, its probe says where Geocode waited for
// results; note ends the message about the order.
func checkPoints(t *testing.T, workers int, addrs []string, points []Point, a *atlas, note string) {
	t.Helper()
	what := fmt.Sprintf("Geocode(%d addresses) with %d workers", len(addrs), workers)
	if len(points) != len(addrs) {
		t.Errorf("%s returned %d points, want one per address, %d", what, len(points), len(addrs))
		return
	}
	whose := map[Point]int{}
	for i, addr := range addrs {
		if _, ok := whose[pointOf(addr)]; !ok {
			whose[pointOf(addr)] = i
		}
	}
	for i, addr := range addrs {
		if points[i] == pointOf(addr) {
			continue
		}
		where := ""
		if a != nil {
			select {
			case site := <-a.sites:
				where = fmt.Sprintf(" (it collects them at %s)", site)
			default:
			}
		}
		if k, ok := whose[points[i]]; ok {
			t.Errorf("%s returned the points in another order than the addresses%s: points[%d] is the point of addrs[%d] (%q), want the point of addrs[%d] (%q). Python's executor.map returns the results in the order of its inputs, whichever finishes first%s",
				what, where, i, k, addrs[k], i, addr, note)
		} else {
			t.Errorf("%s returned %v as points[%d], want %v, the point of addrs[%d] (%q)%s", what, points[i], i, pointOf(addr), i, addr, where)
		}
		return
	}
}

// geocodeWaitSite returns where, in geocoder.go, Geocode's own goroutine
// is waiting, such as "geocoder.go:63", or "" if no goroutine is inside
// Geocode itself.
func geocodeWaitSite() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		lines := strings.Split(g, "\n")
		// A goroutine is a header, then two lines a frame: the function
		// and its file. The first frame is where the goroutine is.
		if len(lines) >= 3 && strings.Contains(lines[1], ".(*Geocoder).Geocode(") {
			if m := siteRE.FindStringSubmatch(lines[2]); m != nil {
				return "geocoder.go:" + m[1]
			}
		}
	}
	return ""
}

var siteRE = regexp.MustCompile(`/geocoder\.go:(\d+)`)

// watchdogTimeout bounds, in real time, how long a bubble may run. The tests
// here need milliseconds.
const watchdogTimeout = 3 * time.Second

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
