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

	mu sync.Mutex // serializes Check: one page on the pipes at a time
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
	reports := make([]Report, len(pages))
	errs := make([]error, len(pages))

	// The bound is on starts, not only on concurrency: min(p.Workers,
	// len(pages)) goroutines, each owning one checker process at a time
	// and sending it page after page. A process is started again only to
	// replace one that crashed.
	next := make(chan int) // indexes of the pages to check; closed when all are handed out
	var wg sync.WaitGroup
	for range min(p.Workers, len(pages)) {
		wg.Add(1)
		// Each worker exits once next is closed and drained, after it has
		// closed (and so reaped) its checker.
		go func() {
			defer wg.Done()
			p.work(ctx, next, pages, reports, errs)
		}()
	}

feed:
	for i := range pages {
		select {
		case next <- i:
		case <-ctx.Done(): // the workers' checkers are being killed: hand out no more
			break feed
		}
	}
	close(next)
	// wg.Wait returns after every worker has returned, so after every
	// checker has been reaped; it orders the workers' writes to reports
	// and errs before the reads below. Each index is received by exactly
	// one worker, so no two goroutines write the same element.
	wg.Wait()

	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("spellcheck: %w", err)
	}
	return reports, errors.Join(errs...)
}

// work checks the pages whose indexes arrive on next, in one checker
// process it owns: no other goroutine touches it. When a checker crashes,
// work closes it, which reaps it, and starts another (lazily, for the next
// page it is given). It closes its last checker before it returns.
func (p *Pool) work(ctx context.Context, next <-chan int, pages []Page, reports []Report, errs []error) {
	var c *Checker // the live checker, or nil
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for i := range next {
		page := pages[i]
		for attempt := 1; ; attempt++ {
			if c == nil {
				var err error
				if c, err = p.Launch(ctx); err != nil {
					c = nil
					errs[i] = fmt.Errorf("%s: starting a checker: %w", page.Path, err)
					break
				}
			}
			p.mu.Lock()
			r, err := c.Check(page)
			p.mu.Unlock()
			if errors.Is(err, ErrCrashed) {
				c.Close() // reap the dead process; its exit error says nothing Check did not
				c = nil
				if attempt < 2 && ctx.Err() == nil {
					continue // the page, once more, in a new checker
				}
			}
			reports[i], errs[i] = r, err
			break
		}
	}
}
