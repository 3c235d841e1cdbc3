// Package supervisor runs the jobs of a build at the same time, each in a
// process of its own, the way a CI agent does: [Supervisor.Run] starts the
// jobs through a [Starter] and watches their [Process]es until they end or
// the build is cancelled.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// A Supervisor runs the jobs of a build.
type Supervisor struct {
	// Start starts one job's process.
	Start Starter
}

// Run runs every job at the same time and waits for them all.
func (s *Supervisor) Run(ctx context.Context, jobs []Job) error {
	var (
		mu    sync.Mutex // protects errs
		errs  []error
		wg    sync.WaitGroup
		procs []*Process
	)
	for _, job := range jobs {
		p, err := s.Start(job)
		if err != nil {
			mu.Lock() // earlier jobs' waiters may be appending too
			errs = append(errs, fmt.Errorf("job %s: %w", job.Name, err))
			mu.Unlock()
			continue
		}
		procs = append(procs, p)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.Wait(); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("job %s: %w", job.Name, err))
				mu.Unlock()
			}
		}()
	}
	// On cancellation, stop every job with its helpers.
	var stopped sync.WaitGroup
	stopped.Add(1)
	stop := context.AfterFunc(ctx, func() {
		defer stopped.Done()
		for _, p := range procs {
			p.TerminateGroup()
		}
	})
	wg.Wait()
	if !stop() {
		stopped.Wait() // the AfterFunc ran (or runs): let it finish first
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.Join(errs...)
}
