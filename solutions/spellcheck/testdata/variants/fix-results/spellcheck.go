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
	type result struct {
		i      int
		report Report
		err    error
	}
	jobs := make(chan int)
	results := make(chan result)
	var wg sync.WaitGroup
	for range min(p.Workers, len(pages)) {
		wg.Go(func() {
			c, startErr := p.Launch(ctx) // startErr: why this worker has no checker
			defer func() {
				if c != nil {
					c.Close()
				}
			}()
			for i := range jobs {
				res := result{i: i}
				if c == nil {
					res.err = fmt.Errorf("%s: starting a checker: %w", pages[i].Path, startErr)
				}
				for attempt := 1; c != nil; attempt++ {
					res.report, res.err = c.Check(pages[i])
					if !errors.Is(res.err, ErrCrashed) {
						break
					}
					c.Close()
					if c, startErr = p.Launch(ctx); startErr != nil {
						c = nil
					}
					if attempt == 2 || ctx.Err() != nil {
						break
					}
				}
				results <- res
			}
		})
	}
	go func() { // exits once every index is sent or ctx is done
		defer close(jobs)
		for i := range pages {
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { // exits once every worker has closed its checker
		wg.Wait()
		close(results)
	}()
	reports := make([]Report, len(pages))
	var errs []error
	for r := range results {
		reports[r.i] = r.report
		if r.err != nil {
			errs = append(errs, r.err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("spellcheck: %w", err)
	}
	return reports, errors.Join(errs...)
}
