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
	reports := make([]Report, len(pages))
	errs := make([]error, len(pages))
	next := make(chan int) // indexes of the pages to check; closed when all are handed out
	var wg sync.WaitGroup
	for range min(p.Workers, len(pages)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				reports[i], errs[i] = p.checkPage(ctx, pages[i])
			}
		}()
	}
feed:
	for i := range pages {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()

	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("spellcheck: %w", err)
	}
	return reports, errors.Join(errs...)
}

// checkPage checks one page in a checker of its own, and again in a new
// checker if the first one crashes.
func (p *Pool) checkPage(ctx context.Context, page Page) (Report, error) {
	for attempt := 1; ; attempt++ {
		// TODO: a new checker process for every page, loading its whole
		// dictionary to check one page, then stopped. The 12-page test
		// site never noticed; the real site has 4000 pages.
		c, err := p.Launch(ctx)
		if err != nil {
			return Report{}, fmt.Errorf("%s: starting a checker: %w", page.Path, err)
		}
		r, err := c.Check(page)
		c.Close() // a crashed checker's exit error says nothing Check did not
		if errors.Is(err, ErrCrashed) && attempt < 2 && ctx.Err() == nil {
			continue // a new checker tries again
		}
		return r, err
	}
}
