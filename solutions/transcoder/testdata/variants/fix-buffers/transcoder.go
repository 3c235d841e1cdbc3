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
	// Like os/exec with cmd.Stdout and cmd.Stderr set to buffers: a copier
	// goroutine per pipe, each reporting on a channel with room for both.
	var video, log bytes.Buffer
	copied := make(chan error, 2)
	go func() {
		_, err := io.Copy(&video, p.Stdout)
		copied <- err
	}()
	go func() {
		_, err := io.Copy(&log, p.Stderr)
		copied <- err
	}()
	readErr := <-copied
	if err := <-copied; readErr == nil {
		readErr = err
	}
	res := Result{video.Bytes(), log.Bytes()}
	if err := p.Wait(); err != nil {
		return res, fmt.Errorf("transcoding %s: %w: %s", job.Input, err, lastLine(res.Log))
	}
	if readErr != nil {
		return res, fmt.Errorf("transcoding %s: reading the tool's output: %w", job.Input, readErr)
	}
	return res, nil
}

// lastLine returns the last line of log that is not empty.
func lastLine(log []byte) []byte {
	log = bytes.TrimRight(log, "\n")
	if i := bytes.LastIndexByte(log, '\n'); i >= 0 {
		return log[i+1:]
	}
	return log
}
