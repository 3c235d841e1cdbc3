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
func (f *Farm) RenderAll(ctx context.Context, frames []Frame) ([]Image, error) {
	images := make([]Image, len(frames))
	errs := make([]error, len(frames))
	var wg sync.WaitGroup
	// A semaphore bounds the processes: a goroutine holds one of the
	// f.Workers tokens from before it starts its process until after
	// renderOne has closed (reaped) it. Goroutines are cheap; processes
	// are not.
	sem := make(chan struct{}, f.Workers)
	for i, fr := range frames {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
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
