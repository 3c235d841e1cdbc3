// Package spellcheck checks the spelling of a documentation site's pages
// in spell-checker processes, the way a site build runs hunspell: each
// [Checker] is one checker process, started by a [Launcher], that checks
// page after page sent to it over its stdin.
package spellcheck

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// A Pool checks pages in checker processes.
type Pool struct {
	// Launch starts one checker process.
	Launch Launcher
	// Workers is how many checker processes may check pages at the same
	// time; it must be at least 1.
	Workers int
}

// CheckAll checks the spelling of every page and returns one report per
// page, in page order.
//
// Pages are checked in parallel, in up to p.Workers checker processes.
// Starting a checker is slow (it loads its dictionary), so CheckAll starts
// no more checkers than it needs, like the worker processes of Python's
// ProcessPoolExecutor: at most p.Workers (never more than there are pages),
// each checking page after page, plus one for each checker that crashes.
//
// A checker that crashes while checking a page is closed and replaced, and
// the page is checked again by the new checker; a page that crashes two
// checkers in a row is given up on. A page that the checker cannot check
// (it answers with an error) is given up on too, and the checker goes on
// with the next page. CheckAll checks every other page and returns their
// reports, with an error that names each page it gave up on.
//
// If ctx is done before every page is checked, CheckAll stops and returns
// an error that wraps ctx.Err(). Either way, CheckAll returns only after
// every checker process it started has exited and been reaped.
func (p *Pool) CheckAll(ctx context.Context, pages []Page) ([]Report, error) {
	if p.Workers < 1 {
		return nil, errors.New("spellcheck: Pool.Workers must be at least 1")
	}
	n := min(p.Workers, len(pages))
	cp := &checkerPool{
		launch: p.Launch,
		// Every checker alive is either idle here or used by one of the
		// at most n page goroutines, so n idle slots are enough.
		idle: make(chan *Checker, n),
	}
	reports := make([]Report, len(pages))
	errs := make([]error, len(pages))
	slots := make(chan struct{}, n) // a slot per page being checked
	var wg sync.WaitGroup
pages:
	for i := range pages {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			break pages
		}
		if ctx.Err() != nil || cp.broken() != nil {
			<-slots
			break
		}
		wg.Go(func() {
			defer func() { <-slots }()
			reports[i], errs[i] = cp.check(ctx, pages[i])
		})
	}
	wg.Wait()
	cp.closeIdle() // every checker left is idle now

	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("spellcheck: %w", err)
	}
	if err := cp.broken(); err != nil {
		return nil, fmt.Errorf("spellcheck: starting a checker: %w", err)
	}
	return reports, errors.Join(errs...)
}

// A checkerPool keeps the idle checker processes, like database/sql keeps
// idle connections: a page takes an idle checker if there is one, or starts
// a new one, and gives it back when it is done with it. A checker that
// crashed is closed, not given back.
type checkerPool struct {
	launch Launcher
	idle   chan *Checker

	mu        sync.Mutex
	launchErr error // why a checker could not start, once one could not
}

// get returns an idle checker, or a new one if none is idle.
func (cp *checkerPool) get(ctx context.Context) (*Checker, error) {
	select {
	case c := <-cp.idle:
		return c, nil
	default:
	}
	c, err := cp.launch(ctx)
	if err != nil {
		cp.mu.Lock()
		if cp.launchErr == nil {
			cp.launchErr = err
		}
		cp.mu.Unlock()
		return nil, err
	}
	return c, nil
}

// put gives a live checker back; it never blocks (see CheckAll).
func (cp *checkerPool) put(c *Checker) { cp.idle <- c }

func (cp *checkerPool) broken() error {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return cp.launchErr
}

// closeIdle closes every idle checker; call it once, when no page is being
// checked any more.
func (cp *checkerPool) closeIdle() {
	close(cp.idle)
	for c := range cp.idle {
		c.Close()
	}
}

// check checks one page in a checker of the pool, and again in another
// checker if the first one crashes.
func (cp *checkerPool) check(ctx context.Context, page Page) (Report, error) {
	for attempt := 1; ; attempt++ {
		c, err := cp.get(ctx)
		if err != nil {
			return Report{}, fmt.Errorf("%s: starting a checker: %w", page.Path, err)
		}
		r, err := c.Check(page)
		if errors.Is(err, ErrCrashed) {
			c.Close() // a crashed checker's exit error says nothing Check did not
			if attempt < 2 && ctx.Err() == nil {
				continue // another checker tries again
			}
			return Report{}, fmt.Errorf("%s: gave up after %d crashed checker(s): %w", page.Path, attempt, err)
		}
		cp.put(c)
		return r, err
	}
}
