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
// One goroutine per frame, as before, but a frame's goroutine starts its
// worker process only when fewer than f.Workers are running: a counter
// guarded by a mutex, and a sync.Cond to wait on until it drops.
func (f *Farm) RenderAll(ctx context.Context, frames []Frame) ([]Image, error) {
	if f.Workers < 1 {
		return nil, errors.New("renderfarm: Farm.Workers must be at least 1")
	}
	var (
		mu      sync.Mutex // protects running
		running int        // worker processes started and not yet closed
	)
	free := sync.NewCond(&mu) // signalled when running drops
	images := make([]Image, len(frames))
	errs := make([]error, len(frames))
	var wg sync.WaitGroup
	for i, fr := range frames {
		wg.Add(1)
		go func() { // exits once its frame is rendered and its worker closed
			defer wg.Done()
			mu.Lock()
			for running == f.Workers {
				free.Wait()
			}
			running++
			mu.Unlock()
			defer func() {
				mu.Lock()
				running--
				mu.Unlock()
				free.Signal()
			}()
			images[i], errs[i] = f.renderOne(ctx, fr)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return images, nil
}

// renderOne starts a worker process, renders fr in it and stops the process.
func (f *Farm) renderOne(ctx context.Context, fr Frame) (Image, error) {
	w, err := f.Launch(ctx)
	if err != nil {
		return Image{}, fmt.Errorf("frame %d: starting a worker: %w", fr.N, err)
	}
	img, err := w.Render(fr)
	if cerr := w.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("frame %d: stopping its worker: %w", fr.N, cerr)
	}
	return img, err
}
