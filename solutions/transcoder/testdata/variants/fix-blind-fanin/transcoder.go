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

	// Drain both pipes at the same time, whatever their sizes: a pump per
	// pipe forwards each chunk it reads, tagged with its stream, to this
	// goroutine, which alone keeps the two outputs. A pump's last message
	// (no data) says its pipe has ended, and how.
	const (
		stdout = iota
		stderr
	)
	type chunk struct {
		stream int
		data   []byte // nil: the pipe has ended, with err
		err    error
	}
	chunks := make(chan chunk)
	pump := func(stream int, r io.Reader) {
		for {
			buf := make([]byte, 32<<10)
			n, err := r.Read(buf)
			if n > 0 {
				chunks <- chunk{stream: stream, data: buf[:n]}
			}
			if err != nil {
				if err == io.EOF {
					err = nil
				}
				chunks <- chunk{stream: stream, err: err}
				return
			}
		}
	}
	go pump(stdout, p.Stdout)
	go pump(stderr, p.Stderr)

	var outputs [2]bytes.Buffer
	var readErr error
	for open := 2; open > 0; {
		c := <-chunks
		if c.data != nil {
			outputs[c.stream].Write(c.data)
			continue
		}
		open-- // every pump has returned once open is 0
		if readErr == nil {
			readErr = c.err
		}
	}
	video, log := outputs[stdout].Bytes(), outputs[stderr].Bytes()

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
