// Package renderfarm renders the frames of an animation in worker processes,
// the way a small studio's render farm does: each [Worker] is one renderer
// process, started by the farm's [Launcher].
package renderfarm

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// A Farm renders frames in worker processes.
type Farm struct {
	// Launch starts one worker process.
	Launch Launcher
	// Workers is the most worker processes the farm may run at once. The
	// machine has about this many cores to spare for rendering.
	Workers int
}

// RenderAll renders every frame and returns the images in frame order.
// Rendering is CPU-bound, so frames render in parallel, each in a worker
// process, like Python's ProcessPoolExecutor(max_workers=f.Workers).
// RenderAll returns only after every worker process it started has exited
// and been reaped.
//
// The first error stops the rendering: the context given to the workers is
// cancelled, which kills their processes, and RenderAll returns that error.
func (f *Farm) RenderAll(ctx context.Context, frames []Frame) ([]Image, error) {
	if f.Workers < 1 {
		return nil, errors.New("renderfarm: Farm.Workers must be at least 1")
	}
	workCtx, cancel := context.WithCancel(ctx) // the workers' processes die with it
	defer cancel()

	var (
		mu       sync.Mutex // protects firstErr
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
	}

	// The bound: a pool of at most f.Workers long-lived worker processes,
	// each owned by one goroutine that feeds it frame after frame, instead
	// of one process per frame. Starting a process costs far more than
	// sending it one more frame over its stdin.
	next := make(chan int) // indexes of frames to render; closed when all are handed out
	images := make([]Image, len(frames))
	var wg sync.WaitGroup
	for range min(f.Workers, len(frames)) {
		wg.Add(1)
		// Each worker goroutine exits once next is closed and drained, or
		// on its first error, always after it has closed its process.
		go func() {
			defer wg.Done()
			if err := f.work(workCtx, next, frames, images); err != nil {
				fail(err)
			}
		}()
	}

feed:
	for i := range frames {
		select {
		case next <- i:
		case <-workCtx.Done(): // a worker failed, or the caller gave up
			break feed
		}
	}
	close(next)
	// Wait for the workers, unless the caller gives up: then there is no
	// point in waiting, return at once.
	finished := make(chan struct{})
	go func() {
		wg.Wait()
		close(finished)
	}()
	select {
	case <-finished:
	case <-ctx.Done():
		return nil, ctx.Err()
	}

	if err := ctx.Err(); err != nil {
		return nil, err // the caller gave up: that, not the kills it caused, is the error
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return images, nil
}

// work starts one worker process and renders the frames whose indexes
// arrive on next in it, until next is closed. The process belongs to work
// alone: no other goroutine touches it, and work closes it, which reaps it,
// before it returns. Each index arrives on next once, so work is the only
// writer of images[i].
func (f *Farm) work(ctx context.Context, next <-chan int, frames []Frame, images []Image) (err error) {
	w, err := f.Launch(ctx)
	if err != nil {
		return fmt.Errorf("starting a worker: %w", err)
	}
	defer func() {
		if cerr := w.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("stopping a worker: %w", cerr)
		}
	}()
	for i := range next {
		img, err := w.Render(frames[i])
		if err != nil {
			return fmt.Errorf("frame %d: %w", frames[i].N, err)
		}
		images[i] = img
	}
	return nil
}
