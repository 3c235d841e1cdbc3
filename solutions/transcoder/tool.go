package transcoder

// This file is the transcoder's process plumbing: what a job is, how the
// transcoding tool starts, its pipes, and how to wait for it. You do not
// need to change it.

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
)

// A Job is one video to transcode.
type Job struct {
	Input  string // the source file, "trailer.mov"
	Format string // the format to convert it to, "webm"
}

// A Starter starts the transcoding tool on a job. The tool writes the
// transcoded video to its stdout and its progress log to its stderr, as
// ffmpeg does, and exits when it is done. The tool is killed when ctx is
// done. [Exec] is the Starter of the real service; the tests supply their
// own.
type Starter func(ctx context.Context, job Job) (*Process, error)

// Exec returns a Starter that runs the tool at path with os/exec, as
// `path -i INPUT -f FORMAT -`.
func Exec(path string) Starter {
	return func(ctx context.Context, job Job) (*Process, error) {
		return Start(ctx, exec.CommandContext(ctx, path, "-i", job.Input, "-f", job.Format, "-"))
	}
}

// A Process is the running tool.
//
// Stdout and Stderr are the read ends of two pipes, one for each of the
// tool's outputs. A pipe holds a limited amount of data (64 KiB on Linux,
// 16 to 64 KiB on macOS): once a pipe is full, the tool's next write to it
// blocks until someone reads from it.
type Process struct {
	// Stdout is the tool's stdout: the transcoded video. It ends (io.EOF)
	// once the tool has exited.
	Stdout io.Reader
	// Stderr is the tool's stderr: its progress log. It ends (io.EOF)
	// once the tool has exited.
	Stderr io.Reader

	ctx  context.Context
	wait func() error // the command's Wait

	once   sync.Once
	err    error         // what Wait returns; set before reaped is closed
	reaped chan struct{} // closed once Wait has reaped the process
}

// Start starts cmd, a command made with [os/exec.CommandContext] for ctx,
// with its stdout and stderr connected to the Process's pipes.
func Start(ctx context.Context, cmd *exec.Cmd) (*Process, error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	err = cmd.Start()
	// The tool has its own copies of the write ends now: once it exits,
	// the pipes end.
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, err
	}
	return &Process{
		Stdout: &pipeReader{f: outR},
		Stderr: &pipeReader{f: errR},
		ctx:    ctx,
		wait:   cmd.Wait,
		reaped: make(chan struct{}),
	}, nil
}

// Wait waits for the tool to exit and reaps it, like os/exec's Cmd.Wait.
// It returns nil if the tool exited with status 0; an error that wraps
// ctx.Err() if the tool was killed because ctx was done; and an
// [*os/exec.ExitError] otherwise.
//
// Wait does not read the pipes or close them: what the tool wrote before
// it exited stays readable after Wait returns. It may be called more than
// once, from any goroutine: every call returns once the tool has been
// reaped, with the same error.
func (p *Process) Wait() error {
	p.once.Do(func() {
		err := p.wait()
		if err != nil && p.ctx.Err() != nil {
			err = fmt.Errorf("%w (the tool was killed: %v)", p.ctx.Err(), err)
		}
		p.err = err
		close(p.reaped)
	})
	return p.err
}

// A pipeReader is the read end of one of the tool's pipes. It closes the
// pipe once it has been read to the end.
type pipeReader struct {
	f   *os.File
	eof atomic.Bool // f was read to its end, and closed
}

func (r *pipeReader) Read(b []byte) (int, error) {
	if r.eof.Load() {
		return 0, io.EOF
	}
	n, err := r.f.Read(b)
	if err == io.EOF {
		r.eof.Store(true)
		r.f.Close()
	}
	return n, err
}

// close closes the pipe whether or not it has been read to the end.
func (r *pipeReader) close() { r.f.Close() }
