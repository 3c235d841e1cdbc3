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
	errs := make([]error, f.Workers)
	next := make(chan int)
	var wg sync.WaitGroup
	for k := range f.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := f.Launch(ctx)
			if err != nil {
				errs[k] = fmt.Errorf("starting a worker: %w", err)
				return
			}
			defer w.Close()
			for i := range next {
				img, err := w.Render(frames[i])
				if err != nil {
					errs[k] = fmt.Errorf("frame %d: %w", frames[i].N, err)
					return // this worker is done for
				}
				images[i] = img
			}
		}()
	}
	for i := range frames {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return images, nil
}
