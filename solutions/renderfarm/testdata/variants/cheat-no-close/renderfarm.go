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
	// Workers is the most worker processes the farm may run at once.
	Workers int
}

// RenderAll renders every frame and returns the images in frame order.
//
// Cheat: a bounded pool of long-lived workers, but no worker is ever
// closed, so their processes are never stopped nor reaped.
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
				errs[k] = err
				for range next { // keep the feeder going
				}
				return
			}
			for i := range next {
				img, err := w.Render(frames[i])
				if err != nil {
					errs[k] = fmt.Errorf("frame %d: %w", frames[i].N, err)
					continue
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
