// Package transcoder converts videos with an external tool, the way a
// video service drives ffmpeg: [Transcoder.Transcode] starts the tool
// through a [Starter] and collects what its [Process] writes.
package transcoder

import (
	"bytes"
	"context"
	"fmt"
	"io"
)

// A Transcoder converts videos with an external tool.
type Transcoder struct {
	// Start starts the tool on a job.
	Start Starter
}

// A Result is what the tool produced for one job.
type Result struct {
	Video []byte // everything the tool wrote to its stdout
	Log   []byte // everything the tool wrote to its stderr
}

// Transcode runs the tool on job and returns the video and the log it
// wrote, each whole and kept apart, whatever their sizes.
//
// If the tool fails, Transcode returns an error that includes the last
// line of its log (where tools explain themselves). If ctx is done first,
// the tool is killed and Transcode returns an error that wraps ctx.Err().
// Either way, Transcode returns only after the tool has exited and been
// reaped.
func (t *Transcoder) Transcode(ctx context.Context, job Job) (Result, error) {
	p, err := t.Start(ctx, job)
	if err != nil {
		return Result{}, fmt.Errorf("transcoding %s: %w", job.Input, err)
	}

	// Read both pipes at the same time, as Python's communicate() does:
	// the log in a goroutine of its own, the video here. Reading one to
	// its end before the other would leave the tool blocked on the other
	// once that pipe is full, waiting for us while we wait for it.
	type output struct {
		b   []byte
		err error
	}
	logc := make(chan output, 1)
	go func() {
		b, err := io.ReadAll(p.Stderr)
		logc <- output{b, err}
	}()
	video, readErr := io.ReadAll(p.Stdout)
	l := <-logc // both pipes have ended: the tool has exited (or closed them)
	log := l.b
	if readErr == nil {
		readErr = l.err
	}

	// Wait only once both pipes are drained, as os/exec's Cmd.Wait does.

	if err := p.Wait(); err != nil {
		return Result{video, log}, fmt.Errorf("transcoding %s: %w: %s", job.Input, err, lastLine(log))
	}
	if readErr != nil {
		return Result{video, log}, fmt.Errorf("transcoding %s: reading the tool's output: %w", job.Input, readErr)
	}
	return Result{video, log}, nil
}

// lastLine returns the last line of log that is not empty.
func lastLine(log []byte) []byte {
	log = bytes.TrimRight(log, "\n")
	if i := bytes.LastIndexByte(log, '\n'); i >= 0 {
		return log[i+1:]
	}
	return log
}
