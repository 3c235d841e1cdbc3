// Package election adds up the votes of an election night: each precinct's
// ballots are counted by a worker process of its own ([Spawner]), and the
// running totals are kept in a [Ledger] file.
package election

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// An Election counts precincts into its ledger.
type Election struct {
	// Spawn starts a worker process for a precinct.
	Spawn Spawner
	// Ledger holds the running totals: the votes counted so far, early
	// votes included. Every worker process can read and write it.
	Ledger *Ledger
}

// Tally counts every precinct at the same time, each in a worker process
// of its own, and returns the election's totals: the ledger's totals from
// before Tally plus the votes of every precinct. When Tally returns, the
// ledger holds those totals too.
//
// If a worker fails, Tally returns an error that names its precinct. If
// ctx is done first, the workers are killed and Tally returns an error
// that wraps ctx.Err(). Either way, Tally returns only after every worker
// process has exited and been reaped.
func (e *Election) Tally(ctx context.Context, precincts []Precinct) (Totals, error) {
	type result struct {
		precinct string
		votes    Totals
		err      error
	}
	results := make(chan result, len(precincts)) // room for every worker: no waiter blocks
	for _, p := range precincts {
		w, err := e.Spawn(ctx, p)
		if err != nil {
			results <- result{p.Name, nil, err}
			continue
		}
		go func() {
			out, err := w.Wait()
			var v Totals
			if err == nil {
				v, err = ParseTotals(out)
			}
			results <- result{p.Name, v, err}
		}()
	}
	// One goroutine, this one, adds each worker's votes to the ledger as
	// they come in: a single writer.
	var errs []error
	var totals Totals
	for range precincts {
		r := <-results
		if r.err != nil {
			errs = append(errs, fmt.Errorf("precinct %s: %w", r.precinct, r.err))
			continue
		}
		t, err := e.Ledger.Read()
		if err == nil {
			t.Add(r.votes)
			err = e.Ledger.Write(t)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		totals = t
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if totals == nil {
		return e.Ledger.Read()
	}
	return totals, nil
}

// Report runs in each worker process, once its precinct has been counted:
// it adds the precinct's votes to the running totals in the ledger.
// Whatever it writes to out, the worker's stdout, Tally gets back from
// Worker.Wait.
func Report(ledger *Ledger, votes Totals, out io.Writer) error {
	_, err := io.WriteString(out, votes.String())
	return err
}
