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
// A semaphore with room for f.Workers tokens bounds the processes.
func (f *Farm) RenderAll(ctx context.Context, frames []Frame) ([]Image, error) {
	images := make([]Image, len(frames))
	sem := make(chan struct{}, f.Workers)
	var (
		mu        sync.Mutex // protects launchErr
		launchErr error
	)
	var wg sync.WaitGroup
	for i, fr := range frames {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			w, err := f.Launch(ctx)
			if err != nil {
				mu.Lock()
				launchErr = errors.Join(launchErr, fmt.Errorf("frame %d: starting a worker: %w", fr.N, err))
				mu.Unlock()
				return
			}
			defer w.Close()
			images[i], _ = w.Render(fr) // a frame that fails is rendered again tomorrow
		}()
	}
	wg.Wait()
	if launchErr != nil {
		return nil, launchErr
	}
	return images, nil
}
