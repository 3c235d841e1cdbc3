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
//
// The workers share nothing: each sends its precinct's votes back on its
// stdout, and Tally alone writes the ledger, adding each precinct's votes
// to the running totals as its worker finishes.
func (e *Election) Tally(ctx context.Context, precincts []Precinct) (Totals, error) {
	totals, err := e.Ledger.Read() // the early votes
	if err != nil {
		return nil, err
	}

	type result struct {
		precinct string
		out      []byte
		err      error
	}
	results := make(chan result)
	var errs []error
	running := 0
	for _, p := range precincts {
		w, err := e.Spawn(ctx, p)
		if err != nil {
			errs = append(errs, fmt.Errorf("precinct %s: %w", p.Name, err))
			continue
		}
		running++
		go func() {
			out, err := w.Wait()
			results <- result{p.Name, out, err}
		}()
	}

	// Receive every result, whatever happens: each worker is reaped by
	// its goroutine, which must not be left blocked on the send.
	for range running {
		r := <-results
		if r.err != nil {
			errs = append(errs, fmt.Errorf("precinct %s: %w", r.precinct, r.err))
			continue
		}
		votes, err := ParseTotals(r.out)
		if err != nil {
			errs = append(errs, fmt.Errorf("precinct %s: reading its votes: %w", r.precinct, err))
			continue
		}
		totals.Add(votes)
		// One writer, one goroutine: no read-modify-write of the ledger
		// can overtake another.
		if err := e.Ledger.Write(totals); err != nil {
			errs = append(errs, fmt.Errorf("precinct %s: writing the ledger: %w", r.precinct, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return totals, nil
}

// Report runs in each worker process, once its precinct has been counted.
// It sends the precinct's votes back to Tally on out, the worker's stdout,
// which Tally gets back from Worker.Wait and adds to the running totals in
// the ledger. A worker does not touch the ledger: Tally is its only writer.
func Report(ledger *Ledger, votes Totals, out io.Writer) error {
	_, err := io.WriteString(out, votes.String())
	return err
}
