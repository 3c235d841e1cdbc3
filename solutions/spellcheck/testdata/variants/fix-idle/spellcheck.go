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
	reports := make([]Report, len(pages))
	errs := make([]error, len(pages))

	// A goroutine holding a token from sem holds at most one checker, so
	// with n tokens there are at most n live checkers: idle never blocks.
	sem := make(chan struct{}, n)
	idle := make(chan *Checker, n)
	var wg sync.WaitGroup
	for i := range pages {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() { // exits after it has put its checker back or closed it
			defer wg.Done()
			defer func() { <-sem }()
			reports[i], errs[i] = p.check(ctx, idle, pages[i])
		}()
	}
	wg.Wait()
	close(idle)
	for c := range idle {
		c.Close()
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("spellcheck: %w", err)
	}
	return reports, errors.Join(errs...)
}

// check checks page in an idle checker, or a new one if none is idle, and
// puts the checker back unless it crashed.
func (p *Pool) check(ctx context.Context, idle chan *Checker, page Page) (Report, error) {
	for attempt := 1; ; attempt++ {
		var c *Checker
		select {
		case c = <-idle:
		default:
			var err error
			if c, err = p.Launch(ctx); err != nil {
				return Report{}, fmt.Errorf("%s: starting a checker: %w", page.Path, err)
			}
		}
		r, err := c.Check(page)
		if !errors.Is(err, ErrCrashed) {
			idle <- c
			return r, err
		}
		c.Close()
		if attempt == 2 || ctx.Err() != nil {
			return r, err
		}
	}
}
