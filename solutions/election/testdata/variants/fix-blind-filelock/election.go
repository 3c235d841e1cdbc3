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
	type started struct {
		precinct string
		w        *Worker
	}
	var workers []started
	var errs []error
	for _, p := range precincts {
		w, err := e.Spawn(ctx, p)
		if err != nil {
			errs = append(errs, fmt.Errorf("precinct %s: %w", p.Name, err))
			continue
		}
		workers = append(workers, started{p.Name, w})
	}
	for _, s := range workers {
		if _, err := s.w.Wait(); err != nil {
			errs = append(errs, fmt.Errorf("precinct %s: %w", s.precinct, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return e.Ledger.Read()
}

// Report runs in each worker process, once its precinct has been counted:
// it adds the precinct's votes to the running totals in the ledger.
// Whatever it writes to out, the worker's stdout, Tally gets back from
// Worker.Wait.
func Report(ledger *Ledger, votes Totals, out io.Writer) error {
	// Every worker process does this at about the same time: hold the
	// ledger's file lock from the read to the write, so that no other
	// worker's read-modify-write comes in between and gets overwritten.
	unlock, err := ledger.Lock()
	if err != nil {
		return err
	}
	totals, err := ledger.Read()
	if err == nil {
		totals.Add(votes)
		err = ledger.Write(totals)
	}
	// Closing the lock file releases the lock; if that fails, the
	// write has still happened, but say so.
	return errors.Join(err, unlock())
}
