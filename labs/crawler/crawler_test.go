package crawler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	// meetWait bounds, in real time, how long a rendezvous waits for
	// fetches to overlap. Workers that fetch in parallel meet within
	// milliseconds; once a wait has run out, the crawl is serialized and
	// every later rendezvous gives up at once, so a serialized crawl fails
	// in seconds, not once per test.
	meetWait = 2 * time.Second
	// stuckWait bounds, in real time, every call of Crawl outside a bubble.
	stuckWait = 5 * time.Second
	// watchdogTimeout bounds, in real time, how long a bubble may run. The
	// tests here need milliseconds.
	watchdogTimeout = 3 * time.Second
)

// A page is one page of a test site.
type page struct {
	links []string
	err   error // what fetching the page fails with, if anything
	hang  bool  // fetching the page waits for ctx to be done, then fails with its error
}

// A site is a Fetcher that serves pages from memory.
//
// Its Fetch does nothing that orders one worker's updates of the report
// after another's: a site with a rendezvous releases the fetches it held
// back all at once, so the race detector sees every worker's updates as
// concurrent on every run, whatever the scheduler does.
type site struct {
	pages map[string]page // read-only
	// meet, if set, holds back the first fetches until enough of them are
	// in flight at once.
	meet *rendezvous
	// delay, if set, is how long each fetch takes; in a synctest bubble it
	// is fake time.
	delay time.Duration
	// entered, if set, receives the url of every fetch that got past the
	// check of ctx. It must have room for every fetch: sends never block.
	entered chan<- string
}

func (s *site) Fetch(ctx context.Context, url string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, ok := s.pages[url]
	if !ok {
		return nil, fmt.Errorf("test site: no page %s: Crawl must fetch only the pages it is given", url)
	}
	if s.entered != nil {
		s.entered <- url
	}
	if s.meet != nil {
		s.meet.arrive()
	}
	if s.delay > 0 {
		time.Sleep(s.delay)
	}
	if p.hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return slices.Clone(p.links), p.err
}

// testSite returns n pages spread over hosts that share prefixes, and the
// Report that crawling all of them returns. Pages share links, a page can
// link to the same place twice, and the first page links nowhere.
func testSite(n int) ([]string, map[string]page, Report) {
	hosts := []string{"go.dev", "pkg.go.dev", "go.dev:8443"}
	targets := []string{
		"https://go.dev/", "https://go.dev/doc/", "https://pkg.go.dev/sync",
		"https://github.com/golang/go", "https://go.dev/doc/effective_go",
	}
	urls := make([]string, n)
	pages := make(map[string]page, n)
	want := Report{Pages: map[string]int{}}
	for i := range n {
		host := hosts[i%len(hosts)]
		urls[i] = fmt.Sprintf("https://%s/p/%d", host, i)
		var links []string
		for j := range i % 6 {
			links = append(links, targets[(i+j)%len(targets)])
		}
		if i%4 == 3 {
			links = append(links, targets[0]) // twice on one page
		}
		pages[urls[i]] = page{links: links}
		want.Links = append(want.Links, links...)
		want.Pages[host]++
	}
	return urls, pages, want
}

func TestCrawlReportsEveryLink(t *testing.T) {
	const n = 4
	urls, pages, want := testSite(n)
	meet := newRendezvous(n)
	c := &Crawler{Fetcher: &site{pages: pages, meet: meet}, Workers: n}
	got, err := crawl(t, context.Background(), c, urls)
	meet.check(t, c.Workers)
	require.NoError(t, err, "Crawl returned an error, want none: every page could be fetched")
	checkReport(t, got, want)
}

func TestCrawlWorkers(t *testing.T) {
	const (
		n     = 6
		delay = time.Second
	)
	for _, workers := range []int{0, 1, 2, 3, 8} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			busy := min(max(workers, 1), n) // fetches in flight at once
			urls, pages, want := testSite(n)

			// First, in real time: busy fetches must be in flight at once.
			meet := newRendezvous(busy)
			c := &Crawler{Fetcher: &site{pages: pages, meet: meet}, Workers: workers}
			got, err := crawl(t, context.Background(), c, urls)
			if !meet.check(t, workers) {
				return // the bubble below would freeze, see there
			}
			require.NoError(t, err, "Crawl returned an error, want none: every page could be fetched")
			checkReport(t, got, want)

			// Then, in fake time, where every fetch takes exactly delay:
			// busy fetches at a time, and never more, take exactly this
			// long. (Only now that the fetches were seen to overlap: a
			// worker waiting for a sync.Mutex that another holds while it
			// fetches is not durably blocked, and would freeze fake time.)
			rounds := (n + busy - 1) / busy
			wantTime := time.Duration(rounds) * delay
			inBubble(t, func(t *testing.T) {
				c := &Crawler{Fetcher: &site{pages: pages, delay: delay}, Workers: workers}
				start := time.Now()
				got, err := crawlHere(t, context.Background(), c, urls)
				elapsed := time.Since(start)
				switch {
				case elapsed < wantTime:
					t.Errorf("overspawn: Crawl with Workers = %d fetched %d pages in %v of fake time, want %v: each fetch takes %v, so it fetched more than %d at a time", workers, n, elapsed, wantTime, delay, busy)
				case elapsed > wantTime:
					t.Errorf("serialized: Crawl with Workers = %d fetched %d pages in %v of fake time, want %v: each fetch takes %v, so it fetched fewer than %d at a time", workers, n, elapsed, wantTime, delay, busy)
				}
				require.NoError(t, err, "Crawl returned an error, want none: every page could be fetched")
				checkReport(t, got, want)
			})
		})
	}
}

func TestCrawlFetchErrors(t *testing.T) {
	var (
		errNotFound = errors.New("404 not found")
		errTimeout  = errors.New("timeout awaiting response headers")
	)
	urls, pages, want := testSite(5)
	failing := map[string]error{
		"https://go.dev/p/missing":      errNotFound,
		"https://pkg.go.dev/p/missing":  errNotFound,
		"https://go.dev:8443/p/timeout": errTimeout,
	}
	for _, u := range slices.Sorted(maps.Keys(failing)) {
		pages[u] = page{links: []string{"https://go.dev/never"}, err: failing[u]}
		urls = append(urls, u)
	}
	// The failing pages come first and last, where a fix that stops at the
	// first error or forgets the last one shows.
	urls = append([]string{urls[len(urls)-1]}, urls[:len(urls)-1]...)

	const workers = 3
	meet := newRendezvous(workers)
	c := &Crawler{Fetcher: &site{pages: pages, meet: meet}, Workers: workers}
	got, err := crawl(t, context.Background(), c, urls)
	meet.check(t, workers)
	require.Error(t, err, "Crawl returned no error, want one: %d pages could not be fetched", len(failing))
	assert.ErrorIs(t, err, errNotFound, "Crawl's error must wrap the error of every page that failed")
	assert.ErrorIs(t, err, errTimeout, "Crawl's error must wrap the error of every page that failed")
	for u := range failing {
		assert.ErrorContains(t, err, u, "Crawl's error must name every page that failed")
	}
	checkReport(t, got, want)
}

func TestCrawlCancelled(t *testing.T) {
	urls, pages, _ := testSite(5)
	past := time.Now().Add(-time.Minute)
	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		err  error
	}{
		{"cancelled", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, context.Canceled},
		{"deadline passed", func() (context.Context, context.CancelFunc) {
			return context.WithDeadline(context.Background(), past)
		}, context.DeadlineExceeded},
	} {
		t.Run("before/"+tc.name, func(t *testing.T) {
			ctx, cancel := tc.ctx()
			defer cancel()
			c := &Crawler{Fetcher: &site{pages: pages}, Workers: 2}
			got, err := crawl(t, ctx, c, urls)
			assert.ErrorIs(t, err, tc.err, "with ctx done before the crawl, every page fails with ctx's error")
			checkReport(t, got, Report{})
		})
	}

	t.Run("during", func(t *testing.T) {
		urls, pages, want := testSite(4)
		hanging := []string{"https://go.dev/p/slow", "https://pkg.go.dev/p/slow"}
		for _, u := range hanging {
			pages[u] = page{links: []string{"https://go.dev/never"}, hang: true}
		}
		urls = append([]string{hanging[0]}, append(urls, hanging[1])...)

		// Three workers: two wait in the hanging pages until ctx is done,
		// the third fetches the others. Once every page has been asked
		// for, cancelling ctx fails only the hanging ones.
		entered := make(chan string, len(urls))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		c := &Crawler{Fetcher: &site{pages: pages, entered: entered}, Workers: 3}
		wait := startCrawl(t, ctx, c, urls)
		giveUp, lostBefore := time.After(meetWait), patienceLost()
		for asked := 0; asked < len(urls); asked++ {
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
				t.Errorf("serialized: Crawl with Workers = 3 did not ask for all %d pages while two of them hung (not measured again: an earlier test found that its fetches do not overlap)", len(urls))
			} else {
				t.Errorf("serialized: Crawl with Workers = 3 asked for %d of its %d pages while two of them hung: it must fetch 3 pages at a time", asked, len(urls))
			}
			cancel()
			wait()
			return // pages not asked for yet fail too, now that ctx is done
		}
		cancel()
		got, err := wait()
		assert.ErrorIs(t, err, context.Canceled, "pages that were still being fetched when ctx was cancelled fail with ctx's error")
		for _, u := range hanging {
			assert.ErrorContains(t, err, u, "Crawl's error must name every page that failed")
		}
		checkReport(t, got, want)
	})
}

func TestCrawlNoPages(t *testing.T) {
	for _, urls := range [][]string{nil, {}} {
		c := &Crawler{Fetcher: &site{}, Workers: 3}
		got, err := crawl(t, context.Background(), c, urls)
		assert.NoError(t, err, "Crawl of no pages returned an error, want none")
		checkReport(t, got, Report{})
	}
}

// requireRaceDetector stops the test unless it runs under the race
// detector. Without it, the lab's bug may pass by luck, or crash the test
// binary with "fatal error: concurrent map writes".
func requireRaceDetector(t *testing.T) {
	t.Helper()
	if !raceDetector {
		t.Fatal("this lab's bug is a data race, and only the race detector finds one on every run: without it the tests pass or crash by luck. Run: go test -race ./labs/crawler")
	}
}

// crawl calls c.Crawl, in real time, and fails the test if it has not
// returned within stuckWait.
func crawl(t *testing.T, ctx context.Context, c *Crawler, urls []string) (Report, error) {
	t.Helper()
	return startCrawl(t, ctx, c, urls)()
}

// startCrawl calls c.Crawl in a goroutine of its own. The function it
// returns, to be called from the test's goroutine, waits for Crawl to
// return and fails the test if it has not within stuckWait.
func startCrawl(t *testing.T, ctx context.Context, c *Crawler, urls []string) (wait func() (Report, error)) {
	t.Helper()
	requireRaceDetector(t)
	type result struct {
		r   Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := c.Crawl(ctx, urls)
		done <- result{r, err}
	}()
	return func() (Report, error) {
		t.Helper()
		select {
		case res := <-done:
			return res.r, res.err
		case <-time.After(stuckWait):
			t.Fatalf("deadlock: Crawl of %d pages with Workers = %d has not returned after %v; all goroutines:\n\n%s", len(urls), c.Workers, stuckWait, allStacks())
			return Report{}, nil
		}
	}
}

// crawlHere calls c.Crawl in the test's goroutine: in a synctest bubble,
// whose watchdog bounds the call.
func crawlHere(t *testing.T, ctx context.Context, c *Crawler, urls []string) (Report, error) {
	t.Helper()
	requireRaceDetector(t)
	return c.Crawl(ctx, urls)
}

// checkReport fails the test unless got holds the same links as want, in
// any order, and the same pages per host.
func checkReport(t *testing.T, got, want Report) {
	t.Helper()
	gotLinks, wantLinks := slices.Sorted(slices.Values(got.Links)), slices.Sorted(slices.Values(want.Links))
	if slices.Equal(gotLinks, wantLinks) && maps.Equal(got.Pages, want.Pages) {
		return
	}
	if subset(gotLinks, wantLinks) && fewer(got.Pages, want.Pages) {
		t.Errorf("race: Crawl lost updates: its report holds %d links from %d pages, want %d links from %d pages. Workers that update the report at the same time overwrite each other's updates",
			len(got.Links), total(got.Pages), len(want.Links), total(want.Pages))
		return
	}
	t.Errorf("Crawl returned the wrong report (links sorted):\nlinks: %q\n want: %q\npages: %v\n want: %v", gotLinks, wantLinks, got.Pages, want.Pages)
}

// subset reports whether every element of the sorted slice a is in the
// sorted slice b, as many times at least.
func subset(a, b []string) bool {
	for len(a) > 0 && len(b) > 0 {
		switch cmp.Compare(a[0], b[0]) {
		case 0:
			a, b = a[1:], b[1:]
		case 1:
			b = b[1:]
		default:
			return false
		}
	}
	return len(a) == 0
}

// fewer reports whether got counts no host that want does not, and no
// more of any.
func fewer(got, want map[string]int) bool {
	for host, n := range got {
		if n > want[host] {
			return false
		}
	}
	return true
}

func total(pages map[string]int) int {
	n := 0
	for _, p := range pages {
		n += p
	}
	return n
}

// A rendezvous holds back the first fetches until want of them are in
// flight at once, which only workers that fetch in parallel achieve. When
// that takes longer than meetWait, it lets every fetch through, remembers
// how many were in flight, and makes every later rendezvous give up at
// once.
//
// It orders the fetches it holds back only up to their release, which is
// one close of a channel: what the workers do after that is unordered, for
// the race detector to see.
type rendezvous struct {
	want   int              // fetches that must meet
	all    chan struct{}    // closed when want fetches are in flight at once
	giveUp <-chan time.Time // fires after meetWait

	mu       sync.Mutex // protects arrived, together and met
	arrived  int        // fetches that have arrived so far
	together int        // the first fetches that arrived before anyone gave up
	met      bool       // want fetches were in flight at once
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

// newRendezvous returns a rendezvous for want fetches.
func newRendezvous(want int) *rendezvous {
	return &rendezvous{want: want, all: make(chan struct{}), giveUp: time.After(meetWait)}
}

// arrive holds back the first want fetches until all of them have
// arrived, or patience is lost; later fetches pass straight through.
func (m *rendezvous) arrive() {
	m.mu.Lock()
	m.arrived++
	first := m.arrived <= m.want
	// A fetch that must wait for others counts only while patience lasts;
	// one that need not wait is always in time.
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
func (m *rendezvous) check(t *testing.T, workers int) bool {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.met:
		return true
	case m.together == 0:
		t.Errorf("serialized: Crawl with Workers = %d did not fetch %d pages at a time (not measured again: an earlier test found that its fetches do not overlap)", workers, m.want)
	default:
		t.Errorf("serialized: Crawl with Workers = %d fetched at most %d pages at a time, want %d: it must fetch its pages in parallel", workers, m.together, m.want)
	}
	return false
}

// inBubble runs f in a synctest bubble, where time is fake and advances
// only when every goroutine in the bubble is durably blocked. A goroutine
// waiting for a sync.Mutex is not durably blocked, so a bubble can hang
// without any report: a real-time watchdog, started outside the bubble,
// then prints every goroutine and ends the test binary.
func inBubble(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	dog := time.AfterFunc(watchdogTimeout, func() {
		fmt.Fprintf(os.Stderr, "%s is stuck; all goroutines:\n\n%s\n", t.Name(), allStacks())
		panic(fmt.Sprintf("deadlock: %s still running after %v of real time: goroutines are stuck where fake time cannot help, such as waiting for a sync.Mutex", t.Name(), watchdogTimeout))
	})
	defer dog.Stop()
	synctest.Test(t, f)
}

// allStacks returns the stacks of every goroutine.
func allStacks() []byte {
	buf := make([]byte, 1<<20)
	return buf[:runtime.Stack(buf, true)]
}
