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

// A result is one rendered frame, or why it could not be rendered.
type result struct {
	i   int // index of the frame
	img Image
	err error
}

// RenderAll renders every frame and returns the images in frame order.
//
// It starts its pool of worker processes up front, then communicates with
// the goroutines that drive them only through two queues: frame indexes go
// out on jobs, results come back on results. Only this goroutine touches
// images and errs.
func (f *Farm) RenderAll(ctx context.Context, frames []Frame) ([]Image, error) {
	if f.Workers < 1 {
		return nil, errors.New("renderfarm: Farm.Workers must be at least 1")
	}
	// Start the pool: at most f.Workers processes, ever.
	var pool []*Worker
	for range min(f.Workers, len(frames)) {
		w, err := f.Launch(ctx)
		if err != nil {
			return nil, fmt.Errorf("starting a worker: %w", err)
		}
		pool = append(pool, w)
	}

	// jobs holds every frame index, so filling it never blocks; it is
	// closed at once, and each goroutine ends when it is drained.
	jobs := make(chan int, len(frames))
	for i := range frames {
		jobs <- i
	}
	close(jobs)
	// results has room for a result per frame and a Close error per
	// worker, so no sender ever waits for us.
	results := make(chan result, len(frames)+len(pool))
	var wg sync.WaitGroup
	for _, w := range pool {
		wg.Add(1)
		go func() { // owns w; exits when jobs is drained, after closing w
			defer wg.Done()
			failed := false
			for i := range jobs {
				if failed {
					results <- result{i: i, err: fmt.Errorf("frame %d: not rendered", frames[i].N)}
					continue
				}
				img, err := w.Render(frames[i])
				failed = err != nil
				results <- result{i, img, err}
			}
			if err := w.Close(); err != nil && !failed {
				results <- result{i: -1, err: err}
			}
		}()
	}
	wg.Wait()
	close(results)

	images := make([]Image, len(frames))
	var errs []error
	for r := range results {
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		images[r.i] = r.img
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return images, nil
}
