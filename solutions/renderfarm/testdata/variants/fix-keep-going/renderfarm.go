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
//
// A pool of at most f.Workers goroutines takes frame indexes from a queue.
// Each owns one worker process at a time; when its process dies it closes
// (reaps) it and starts a new one for the next frame, so one bad frame
// does not stop the others. Every error is returned at the end.
func (f *Farm) RenderAll(ctx context.Context, frames []Frame) ([]Image, error) {
	if f.Workers < 1 {
		return nil, errors.New("renderfarm: Farm.Workers must be at least 1")
	}
	queue := make(chan int, len(frames)) // every index fits, so it is filled and closed at once
	for i := range frames {
		queue <- i
	}
	close(queue)

	images := make([]Image, len(frames))
	errs := make([]error, len(frames)) // errs[i] is written by whoever took i
	var wg sync.WaitGroup
	for range min(f.Workers, len(frames)) {
		wg.Add(1)
		go func() { // exits when the queue is empty, with no process left open
			defer wg.Done()
			var w *Worker
			defer func() {
				if w != nil {
					w.Close()
				}
			}()
			for i := range queue {
				if w == nil {
					var err error
					if w, err = f.Launch(ctx); err != nil {
						errs[i] = fmt.Errorf("frame %d: starting a worker: %w", frames[i].N, err)
						continue
					}
				}
				img, err := w.Render(frames[i])
				if err != nil {
					errs[i] = fmt.Errorf("frame %d: %w", frames[i].N, err)
					w.Close() // dead: reap it before starting another
					w = nil
					continue
				}
				images[i] = img
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return images, nil
}
