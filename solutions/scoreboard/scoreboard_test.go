package scoreboard

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"testing"
	"testing/synctest"
	"time"
)

// errFeedDown is what a feed returns for a fetch that fails.
var errFeedDown = errors.New("feed unavailable")

// scoresAt returns the scores that fetch n of a feed answers with: each
// fetch's scores differ from the one before, so a test can tell which
// fetch the board shows. The map is new on every call.
func scoresAt(n int) map[string]Score {
	return map[string]Score{
		"NED-ESP": {Home: n, Away: 1},
		"BRA-ARG": {Home: 2, Away: n},
		"JPN-KOR": {Home: n % 3, Away: n / 2},
	}
}

// A feed answers like a data provider, but keeps no state: what it
// answers depends only on the fake time at which it is asked. Fetch n is
// the one asked n intervals after the board opened (or a little later),
// and answers scoresAt(n). So the tests share no memory with the
// refresher, no lock and no channel, that could order what the board does:
// the race detector sees the board's own synchronization, and nothing
// else.
type feed struct {
	start time.Time                 // when the board opened
	every time.Duration             // the board's interval
	delay func(n int) time.Duration // how long fetch n takes; nil: no time
	fail  func(n int) bool          // whether fetch n fails; nil: none fails
}

func (f feed) Scores(ctx context.Context) (map[string]Score, error) {
	n := int(time.Since(f.start) / f.every)
	if f.delay != nil {
		timer := time.NewTimer(f.delay(n))
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if f.fail != nil && f.fail(n) {
		return nil, errFeedDown
	}
	return scoresAt(n), nil
}

func TestOpenWaitsForTheFirstFetch(t *testing.T) {
	// The quick feed comes first: it is the one where the refresher's
	// first write and the first Score are sure to meet.
	for _, c := range []struct {
		feed  string
		delay time.Duration // how long the first fetch takes
		fails bool          // whether the first fetch fails
	}{
		{"a quick feed", 0, false},
		{"a slow feed", 3 * time.Second, false},
		{"a feed that is down", 2 * time.Second, true},
	} {
		inBubble(t, func(t *testing.T) {
			const every = time.Minute
			f := feed{
				start: time.Now(),
				every: every,
				delay: func(int) time.Duration { return c.delay },
				fail:  func(int) bool { return c.fails },
			}
			b := Open(f, every)
			elapsed := time.Since(f.start)
			got, ok := b.Score("NED-ESP")
			b.Close()

			switch {
			case elapsed > c.delay:
				t.Errorf("with %s, Open returned after %v of fake time, but the first fetch was done after %v: Open must return as soon as the first fetch is done, not after a fixed wait", c.feed, elapsed, c.delay)
			case elapsed < c.delay:
				t.Errorf("with %s, Open returned after %v of fake time, before the first fetch was done (after %v): Score then answers from an empty board", c.feed, elapsed, c.delay)
			}
			if want := scoresAt(0)["NED-ESP"]; c.fails && ok {
				t.Errorf("with %s, Score(%q) = %+v, true after Open; want no score: the first fetch failed", c.feed, "NED-ESP", got)
			} else if !c.fails && (!ok || got != want) {
				t.Errorf("with %s, Score(%q) = %+v, %v after Open; want %+v, true: the scores of the first fetch", c.feed, "NED-ESP", got, ok, want)
			}
			time.Sleep(time.Minute) // anything still running has a minute to end
		})
	}
}

func TestScoreNeverWaitsForTheFeed(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		const (
			every = time.Second
			slow  = 10 * time.Second // every fetch after the first takes this long
		)
		f := feed{start: time.Now(), every: every, delay: func(n int) time.Duration {
			if n == 0 {
				return 0
			}
			return slow
		}}
		b := Open(f, every)

		// Fetch 1 was asked at 1s and answers at 11s.
		time.Sleep(time.Until(f.start.Add(every + every/2)))
		asked := time.Now()
		got, ok := b.Score("JPN-KOR")
		if waited := time.Since(asked); waited > 0 {
			t.Errorf("serialized: Score waited %v of fake time for the fetch in progress; it must answer from the board at once, while the refresher waits for the feed", waited)
		}
		if want := scoresAt(0)["JPN-KOR"]; !ok || got != want {
			t.Errorf("Score(%q) = %+v, %v while fetch 1 is in progress; want %+v, true: the scores of fetch 0", "JPN-KOR", got, ok, want)
		}

		// Fetch 1 has answered; the next one is in progress.
		time.Sleep(time.Until(f.start.Add(every + slow + every/2)))
		checkScore(t, b, "JPN-KOR", 1, time.Since(f.start))

		closing := time.Now()
		b.Close()
		if waited := time.Since(closing); waited > 0 {
			t.Errorf("Close took %v of fake time: it must cancel the fetch in progress and return at once", waited)
		}
		time.Sleep(time.Minute) // anything still running has a minute to end
	})
}

func TestBoardKeepsRefreshing(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		const (
			every = 250 * time.Millisecond
			down  = 3 // fetch 3 fails: the board keeps the scores of fetch 2
		)
		f := feed{start: time.Now(), every: every, fail: func(n int) bool { return n == down }}
		b := Open(f, every)
		last := 0 // the last fetch that succeeded
		for n := range 7 {
			// Half-way between fetch n and fetch n+1.
			time.Sleep(time.Until(f.start.Add(time.Duration(n)*every + every/2)))
			if n != down {
				last = n
			}
			checkScore(t, b, "BRA-ARG", last, time.Since(f.start))
		}
		b.Close()
		time.Sleep(time.Minute) // anything still running has a minute to end
	})
}

// checkScore fails the test unless the board shows match as fetch n
// scored it, at elapsed after Open.
func checkScore(t *testing.T, b *Board, match string, n int, elapsed time.Duration) {
	t.Helper()
	got, ok := b.Score(match)
	want := scoresAt(n)[match]
	if ok && got == want {
		return
	}
	for older := range n {
		if ok && got == scoresAt(older)[match] {
			t.Errorf("serialized: %v after Open, Score(%q) = %+v, the scores of fetch %d; want %+v, those of fetch %d: the refresher must keep fetching at every tick, in the background, for as long as the board is open", elapsed, match, got, older, want, n)
			return
		}
	}
	t.Errorf("%v after Open, Score(%q) = %+v, %v; want %+v, true: the scores of fetch %d", elapsed, match, got, ok, want, n)
}

// watchdogTimeout bounds, in real time, how long a bubble may run. The
// tests here need milliseconds.
const watchdogTimeout = 3 * time.Second

// inBubble runs f in a synctest bubble, where time is fake and advances
// only when every goroutine in the bubble is durably blocked. A goroutine
// waiting on a sync.Mutex is not durably blocked, so a bubble can hang
// without any report: a real-time watchdog, started outside the bubble,
// then prints every goroutine and ends the test binary.
//
// The tests never call synctest.Wait before reading the board: Wait orders
// everything the bubble's goroutines did before it, which would hide from
// the race detector what the board fails to order itself.
func inBubble(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	dog := time.AfterFunc(watchdogTimeout, func() {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		fmt.Fprintf(os.Stderr, "%s is stuck; all goroutines:\n\n%s\n", t.Name(), buf)
		panic(fmt.Sprintf("deadlock: %s still running after %v of real time: goroutines are stuck where fake time cannot help, such as Score waiting for a sync.Mutex that is held while the feed answers", t.Name(), watchdogTimeout))
	})
	defer dog.Stop()
	synctest.Test(t, f)
}
