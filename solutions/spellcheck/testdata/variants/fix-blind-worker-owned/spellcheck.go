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
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("spellcheck: %w", err)
	}
	// A checker that cannot start stops the whole pool: cancelling work
	// also stops (kills) the checkers the other workers started.
	work, stop := context.WithCancelCause(ctx)
	defer stop(nil)

	reports := make([]Report, len(pages))
	errs := make([]error, len(pages))
	next := make(chan int) // indexes of the pages to check; closed when all are handed out
	var wg sync.WaitGroup
	for range min(p.Workers, len(pages)) {
		wg.Go(func() {
			if err := p.worker(work, pages, next, reports, errs); err != nil {
				stop(err)
			}
		})
	}
feed:
	for i := range pages {
		select {
		case next <- i:
		case <-work.Done():
			break feed
		}
	}
	close(next)
	wg.Wait() // every worker has closed its checker

	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("spellcheck: %w", err)
	}
	if work.Err() != nil {
		return nil, fmt.Errorf("spellcheck: %w", context.Cause(work))
	}
	return reports, errors.Join(errs...)
}

// worker checks the pages whose indexes it receives from next, page after
// page, in one checker process of its own, started when it gets its first
// page. A checker that crashes is closed, and a new one started to check
// the page again, once; after that the page is given up on, and the next
// page gets a new checker. The worker closes its checker before it returns.
//
// It returns an error only if a checker cannot be started.
func (p *Pool) worker(ctx context.Context, pages []Page, next <-chan int, reports []Report, errs []error) error {
	var c *Checker
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
					return fmt.Errorf("starting a checker: %w", err)
				}
			}
			r, err := c.Check(page)
			if errors.Is(err, ErrCrashed) {
				c.Close() // a crashed checker's exit error says nothing Check did not
				c = nil
				if attempt < 2 && ctx.Err() == nil {
					continue // a new checker tries again
				}
				errs[i] = fmt.Errorf("%s: gave up after %d crashed checker(s): %w", page.Path, attempt, err)
				break
			}
			reports[i], errs[i] = r, err
			break
		}
	}
	return nil
}
