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

// RenderAll renders every frame and returns the images in frame order,
// with a pool of f.Workers worker processes fed through a channel.
func (f *Farm) RenderAll(ctx context.Context, frames []Frame) ([]Image, error) {
	images := make([]Image, len(frames))
	errs := make([]error, len(frames))
	next := make(chan int, len(frames)) // every index fits: filling it never blocks
	for i := range frames {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for range min(f.Workers, len(frames)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := f.Launch(ctx)
			if err != nil {
				for i := range next {
					errs[i] = fmt.Errorf("frame %d: starting a worker: %w", frames[i].N, err)
				}
				return
			}
			for i := range next {
				img, err := w.Render(frames[i])
				if err != nil {
					errs[i] = fmt.Errorf("frame %d: %w", frames[i].N, err)
					return // the worker is dead: nothing to close
				}
				images[i] = img
			}
			if err := w.Close(); err != nil {
				errs[0] = errors.Join(errs[0], err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return images, nil
}
