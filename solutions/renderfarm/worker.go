package renderfarm

// This file is the farm's process plumbing: what a frame is, how a worker
// process renders one, and how the farm talks to a worker over its pipes.
// You do not need to change it.

import (
	"bufio"
	"context"
	"fmt"
	"io"
)

// A Frame is one frame of the studio's animation, a slow zoom into the
// Mandelbrot set.
type Frame struct {
	N    int     // frame number
	X, Y float64 // centre of the view
	Size float64 // width of the view
}

// An Image is a rendered frame. The farm keeps only a checksum of its pixels.
type Image struct {
	N   int    // frame number
	Sum uint32 // FNV-1a checksum of the frame's pixels
}

// Render renders f. It is pure arithmetic, a few milliseconds of CPU per
// frame: the kind of work that wants its own processor core.
func Render(f Frame) Image {
	const (
		side    = 64  // pixels per side
		maxIter = 256 // iterations before a point counts as inside the set
	)
	sum := uint32(2166136261) // FNV-1a offset basis
	for py := range side {
		for px := range side {
			cr := f.X + f.Size*(float64(px)/side-0.5)
			ci := f.Y + f.Size*(float64(py)/side-0.5)
			zr, zi := 0.0, 0.0
			n := 0
			for ; n < maxIter && zr*zr+zi*zi <= 4; n++ {
				zr, zi = zr*zr-zi*zi+cr, 2*zr*zi+ci
			}
			sum ^= uint32(n)
			sum *= 16777619 // FNV-1a prime
		}
	}
	return Image{N: f.N, Sum: sum}
}

// A Launcher starts one worker process. The process lives until its Worker
// is closed or ctx is done, whichever comes first.
//
// In production a Launcher runs the renderer binary with os/exec and hands
// the command's stdin, stdout and Wait method to [NewWorker]; the tests
// supply their own.
type Launcher func(ctx context.Context) (*Worker, error)

// A Worker is one running worker process. The farm sends it one frame at a
// time on the process's stdin and reads the image back from its stdout; the
// process renders frames until its stdin is closed, so one Worker can render
// many frames, one after another.
//
// A Worker is not safe for concurrent use: one goroutine at a time may call
// Render. Close must be called exactly once, after the last Render, to stop
// the process and reap it.
type Worker struct {
	stdin  io.WriteCloser // the process's stdin
	stdout *bufio.Reader  // the process's stdout
	wait   func() error   // waits for the process to exit and reaps it
}

// NewWorker returns a Worker for a started process whose stdin and stdout
// are the given pipes; wait waits for the process to exit, like
// [os/exec.Cmd.Wait].
func NewWorker(stdin io.WriteCloser, stdout io.Reader, wait func() error) *Worker {
	return &Worker{stdin: stdin, stdout: bufio.NewReader(stdout), wait: wait}
}

// Render has the worker process render f and waits for the image.
func (w *Worker) Render(f Frame) (Image, error) {
	if _, err := fmt.Fprintf(w.stdin, "%d %v %v %v\n", f.N, f.X, f.Y, f.Size); err != nil {
		return Image{}, fmt.Errorf("sending frame %d to its worker: %w", f.N, err)
	}
	line, err := w.stdout.ReadString('\n')
	if err != nil {
		return Image{}, fmt.Errorf("rendering frame %d: the worker process stopped answering: %w", f.N, err)
	}
	var img Image
	if _, err := fmt.Sscanf(line, "%d %d\n", &img.N, &img.Sum); err != nil || img.N != f.N {
		return Image{}, fmt.Errorf("rendering frame %d: the worker answered %q", f.N, line)
	}
	return img, nil
}

// Close closes the process's stdin, which tells it to exit, and waits for
// it to exit, so that it does not linger as a zombie. It returns the
// process's exit error, if any.
func (w *Worker) Close() error {
	err := w.stdin.Close()
	if werr := w.wait(); werr != nil {
		return werr
	}
	return err
}

// Serve is the main loop of a worker process: it renders each frame read
// from r and writes its image to w, until r ends.
func Serve(r io.Reader, w io.Writer) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f, err := parseFrame(sc.Text())
		if err != nil {
			return err
		}
		img := Render(f)
		if _, err := fmt.Fprintf(w, "%d %d\n", img.N, img.Sum); err != nil {
			return err
		}
	}
	return sc.Err()
}

// parseFrame parses a frame as Worker.Render sends it: "N X Y Size".
func parseFrame(line string) (Frame, error) {
	var f Frame
	if _, err := fmt.Sscanf(line, "%d %g %g %g", &f.N, &f.X, &f.Y, &f.Size); err != nil {
		return Frame{}, fmt.Errorf("bad frame request %q: %w", line, err)
	}
	return f, nil
}
