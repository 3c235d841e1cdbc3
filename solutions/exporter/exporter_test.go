package exporter

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// The tests run Export in testing/synctest bubbles, where time is fake: a
// query that takes an hour takes no real time at all, and a goroutine that
// is still querying when Export returns has, deterministically, not
// finished yet.

// cancelLag is how long a query takes to notice that its ctx is done: a
// cancelled query still ends a little after its ctx, never at the same
// instant.
const cancelLag = 5 * time.Millisecond

// A warehouse is a Warehouse whose queries take fake time. It never touches
// anything the test reads without synchronization, so it adds no
// happens-before edge that could hide a race in Export.
type warehouse struct {
	delay map[string]time.Duration // how long each region's query takes
	fail  map[string]error         // regions whose query fails after its delay

	running atomic.Int32           // queries in progress
	peak    atomic.Int32           // the most queries in progress at once
	ended   atomic.Int32           // queries that have returned
	caller  atomic.Pointer[string] // where Export's goroutines were started, "exporter.go:50"
}

func (w *warehouse) Sales(ctx context.Context, region string) ([]Sale, error) {
	if site := goroutineSite(); site != "" {
		w.caller.CompareAndSwap(nil, &site)
	}
	n := w.running.Add(1)
	for p := w.peak.Load(); n > p && !w.peak.CompareAndSwap(p, n); p = w.peak.Load() {
	}
	defer func() {
		w.running.Add(-1)
		w.ended.Add(1)
	}()
	select {
	case <-time.After(w.delay[region]):
	case <-ctx.Done():
		time.Sleep(cancelLag)
		return nil, ctx.Err()
	}
	if err := w.fail[region]; err != nil {
		return nil, err
	}
	return salesOf(region), nil
}

// salesOf returns the sales the warehouse holds for region: a few lines,
// different for every region.
func salesOf(region string) []Sale {
	sales := make([]Sale, 1+len(region)%3)
	for i := range sales {
		sales[i] = Sale{Product: fmt.Sprintf("%s-%d", region, i), Cents: int64(100*len(region) + i)}
	}
	return sales
}

// wantSection returns the section a report must hold for region.
func wantSection(region string) Section {
	s := Section{Region: region, Sales: salesOf(region)}
	for _, sale := range s.Sales {
		s.Total += sale.Cents
	}
	return s
}

// An export is what one call of Export did.
type export struct {
	report  *Report
	err     error
	elapsed time.Duration // fake time Export took
	filled  int           // sections of report with a region, when Export returned
	late    int32         // queries that ended after Export had returned
	caller  string        // where the queries were started, "exporter.go:50"
}

// runExport calls Export, notes what its report held when it returned, and
// then lets fake time run: a query that ends after that was still running
// when Export returned.
func runExport(ctx context.Context, w *warehouse, regions []string) export {
	start := time.Now()
	report, err := Export(ctx, w, regions)
	e := export{report: report, err: err, elapsed: time.Since(start)}
	ended := w.ended.Load()
	if report != nil {
		for _, s := range report.Sections {
			if s.Region != "" {
				e.filled++
			}
		}
	}

	// Give every query all the fake time it could need. In a bubble, this
	// returns only once every other goroutine is blocked or gone.
	time.Sleep(time.Hour)
	e.late = w.ended.Load() - ended
	if site := w.caller.Load(); site != nil {
		e.caller = *site
	}
	return e
}

// checkJoined fails t, and returns false, if Export returned before every
// query it started had ended.
func checkJoined(t *testing.T, e export, n int) bool {
	t.Helper()
	if e.late == 0 {
		return true
	}
	t.Errorf("leak: Export returned after %v of fake time, before the queries it started had ended (%d ended later, in goroutines started at %s): "+
		"the report it returned had %d of %d regions filled in, and those goroutines went on writing into it after Export had returned. "+
		"Export must return only once every goroutine it started is done (Python: threads started and never joined)",
		e.elapsed, e.late, cmp.Or(e.caller, "an unknown place"), e.filled, n)
	return false
}

// checkReport fails t unless report holds the sections of regions, in order.
func checkReport(t *testing.T, report *Report, regions []string) {
	t.Helper()
	if report == nil {
		t.Errorf("Export returned a nil report and no error; want a report with %d sections", len(regions))
		return
	}
	if len(report.Sections) != len(regions) {
		t.Errorf("the report has %d sections; want %d, one per region", len(report.Sections), len(regions))
		return
	}
	for i, region := range regions {
		got, want := report.Sections[i], wantSection(region)
		if got.Region != want.Region || got.Total != want.Total || !slices.Equal(got.Sales, want.Sales) {
			t.Errorf("report.Sections[%d] = %+v; want %+v: the sections must follow the order of the regions asked for", i, got, want)
		}
	}
}

// checkOverlap fails t unless the queries of w ran all at once, and Export
// returned as soon as the last of them ended, want after it started.
func checkOverlap(t *testing.T, e export, w *warehouse, n int, want time.Duration) {
	t.Helper()
	if peak := w.peak.Load(); n > 1 && peak < int32(n) {
		t.Errorf("serialized: at most %d of the %d queries ran at the same time; Export must query every region at once, one goroutine each", peak, n)
		return
	}
	if e.elapsed != want {
		t.Errorf("Export returned after %v of fake time; want %v: it must return as soon as its last query has ended", e.elapsed, want)
	}
}

func TestExportWaitsForEveryRegion(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		regions := []string{"eu", "eu-west", "us-east", "apac"}
		w := &warehouse{delay: map[string]time.Duration{
			"eu": time.Second, "eu-west": 3 * time.Second, "us-east": 2 * time.Second, "apac": 500 * time.Millisecond,
		}}
		e := runExport(context.Background(), w, regions)
		if !checkJoined(t, e, len(regions)) {
			return
		}
		if e.err != nil {
			t.Errorf("Export returned error %v; want none", e.err)
		}
		checkReport(t, e.report, regions)
		checkOverlap(t, e, w, len(regions), 3*time.Second)
	})
}

func TestExportRegionCounts(t *testing.T) {
	for _, n := range []int{1, 2, 12} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				w := &warehouse{delay: map[string]time.Duration{}}
				var regions []string
				for i := range n {
					region := fmt.Sprintf("r%d", i+1) // r1, r10, r11 and r12 share a prefix
					regions = append(regions, region)
					w.delay[region] = time.Duration(n-i) * time.Minute // the first region ends last
				}
				e := runExport(context.Background(), w, regions)
				if !checkJoined(t, e, n) {
					return
				}
				if e.err != nil {
					t.Errorf("Export returned error %v; want none", e.err)
				}
				checkReport(t, e.report, regions)
				checkOverlap(t, e, w, n, time.Duration(n)*time.Minute)
			})
		})
	}
}

func TestExportNoRegions(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		for _, regions := range [][]string{nil, {}} {
			e := runExport(context.Background(), &warehouse{}, regions)
			if e.err != nil || e.report == nil || len(e.report.Sections) != 0 {
				t.Errorf("Export(%d regions) = %+v, %v; want an empty report and no error", len(regions), e.report, e.err)
			}
		}
	})
}

func TestExportFailures(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		errTimeout := errors.New("query timed out")
		errDenied := errors.New("permission denied")
		regions := []string{"eu", "us", "us-west", "apac", "latam"}
		w := &warehouse{
			delay: map[string]time.Duration{
				"eu": 2 * time.Second, "us": 100 * time.Millisecond, "us-west": 2 * time.Second,
				"apac": 4 * time.Second, "latam": 2 * time.Second,
			},
			fail: map[string]error{"us": errDenied, "apac": errTimeout},
		}
		e := runExport(context.Background(), w, regions)
		if !checkJoined(t, e, len(regions)) {
			return
		}
		if e.report != nil {
			t.Errorf("Export returned a report although two queries failed; want a nil report")
		}
		for _, want := range []struct {
			err    error
			region string
		}{{errDenied, "us"}, {errTimeout, "apac"}} {
			if !errors.Is(e.err, want.err) {
				t.Errorf("Export returned error %v; want one that wraps %q, the error of region %s", e.err, want.err, want.region)
			} else if !strings.Contains(e.err.Error(), want.region+":") {
				t.Errorf("Export returned error %q; want it to name region %s next to its error", e.err, want.region)
			}
		}
		checkOverlap(t, e, w, len(regions), 4*time.Second)
	})
}

func TestExportCancelled(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		regions := []string{"eu", "us", "apac"}
		w := &warehouse{delay: map[string]time.Duration{"eu": time.Minute, "us": time.Hour, "apac": 10 * time.Minute}}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		const cancelAt = 2 * time.Second
		time.AfterFunc(cancelAt, cancel)

		e := runExport(ctx, w, regions)
		if !checkJoined(t, e, len(regions)) {
			return
		}
		if !errors.Is(e.err, context.Canceled) || e.report != nil {
			t.Errorf("Export with its ctx cancelled during the queries = %+v, %v; want a nil report and an error that wraps context.Canceled", e.report, e.err)
		}
		checkOverlap(t, e, w, len(regions), cancelAt+cancelLag)
	})
}

func TestExportCancelledBefore(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		regions := []string{"eu", "us"}
		w := &warehouse{delay: map[string]time.Duration{"eu": time.Second, "us": time.Second}}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()

		e := runExport(ctx, w, regions)
		if !checkJoined(t, e, len(regions)) {
			return
		}
		if !errors.Is(e.err, context.Canceled) || e.report != nil {
			t.Errorf("Export with a cancelled ctx = %+v, %v; want a nil report and an error that wraps context.Canceled", e.report, e.err)
		}
	})
}

// goroutineSite says where, in the lab's own code (not its tests), the
// calling goroutine was started, such as "exporter.go:50"; or, when it was
// started elsewhere (by a sync.WaitGroup or an errgroup), the line of that
// code it is running; or "" when neither is in the lab's code.
func goroutineSite() string {
	_, self, _, _ := runtime.Caller(0)
	dir := filepath.Dir(self)
	buf := make([]byte, 64<<10)
	buf = buf[:runtime.Stack(buf, false)]
	var running string
	lines := strings.Split(string(buf), "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "\t") || i == 0 {
			continue
		}
		loc, _, _ := strings.Cut(strings.TrimSpace(l), " +0x")
		file, line, ok := strings.Cut(loc, ".go:")
		file += ".go"
		if !ok || filepath.Dir(file) != dir || strings.HasSuffix(file, "_test.go") {
			continue
		}
		site := filepath.Base(file) + ":" + line
		if strings.HasPrefix(lines[i-1], "created by ") {
			return site
		}
		if running == "" {
			running = site
		}
	}
	return running
}

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
