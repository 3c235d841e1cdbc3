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
// The frames are dealt out like cards: worker k of the f.Workers workers
// renders frames k, k+f.Workers, k+2*f.Workers and so on, each in its own
// worker process, so at most f.Workers processes ever run. No channel is
// needed: each goroutine owns its stride of images and its own error slot.
func (f *Farm) RenderAll(ctx context.Context, frames []Frame) ([]Image, error) {
	if f.Workers < 1 {
		return nil, errors.New("renderfarm: Farm.Workers must be at least 1")
	}
	n := min(f.Workers, len(frames))
	images := make([]Image, len(frames))
	errs := make([]error, n)
	var wg sync.WaitGroup
	for k := range n {
		wg.Add(1)
		go func() { // exits after its stride, or at its first error, having closed its worker
			defer wg.Done()
			errs[k] = f.renderStride(ctx, frames, images, k, n)
		}()
	}
	wg.Wait() // every process is reaped: each goroutine closes its worker before it returns
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return images, nil
}

// renderStride renders frames k, k+step, ... in one worker process.
func (f *Farm) renderStride(ctx context.Context, frames []Frame, images []Image, k, step int) (err error) {
	w, err := f.Launch(ctx)
	if err != nil {
		return fmt.Errorf("starting a worker: %w", err)
	}
	defer func() {
		if cerr := w.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("stopping a worker: %w", cerr)
		}
	}()
	for i := k; i < len(frames); i += step {
		if images[i], err = w.Render(frames[i]); err != nil {
			return fmt.Errorf("frame %d: %w", frames[i].N, err)
		}
	}
	return nil
}
