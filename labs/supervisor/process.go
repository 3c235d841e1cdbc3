package supervisor

// This file is the supervisor's process plumbing: what a job is, how its
// process starts, and how the supervisor stops it and waits for it. You do
// not need to change it.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
)

// A Job is one check of a build, run as a command in a process of its own.
// A job's command may start processes of its own: an integration-test job
// starts a database server in the background, a browser test starts a
// browser.
type Job struct {
	Name string   // what the build calls the job: "lint", "unit", "integration"
	Args []string // the command and its arguments
}

// A Starter starts a job's process. [Exec] is the Starter of a real build
// agent; the tests supply their own.
type Starter func(job Job) (*Process, error)

// Exec starts job's command with os/exec, as the leader of a new process
// group (see [Start]).
func Exec(job Job) (*Process, error) {
	if len(job.Args) == 0 {
		return nil, fmt.Errorf("job %s has no command", job.Name)
	}
	cmd := exec.Command(job.Args[0], job.Args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return Start(cmd)
}

// A Process is a job's running process. It leads a process group of its
// own: every process the job starts (and every process those start) joins
// that group, unless it leaves on purpose, so the group is the job and all
// its helpers.
//
// Its methods are safe for concurrent use.
type Process struct {
	cmd *exec.Cmd

	once   sync.Once
	err    error         // what Wait returns; set before reaped is closed
	reaped chan struct{} // closed once Wait has reaped the process
}

// Start starts cmd as the leader of a new process group.
func Start(cmd *exec.Cmd) (*Process, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true // a new group, whose id is the process's pid
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &Process{cmd: cmd, reaped: make(chan struct{})}, nil
}

// Pid returns the process's id, which is also its group's id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Wait waits for the process to exit and reaps it, like Python's
// Process.join and os/exec's Cmd.Wait. Until some goroutine has waited for
// it, an exited process stays in the system's process table as a zombie.
// It returns nil if the process exited with status 0, and an
// [*os/exec.ExitError] otherwise.
//
// Wait waits only for the process itself, not for the processes it
// started. It may be called more than once, from any goroutine: every call
// returns once the process has been reaped, with the same error.
func (p *Process) Wait() error {
	p.once.Do(func() {
		p.err = p.cmd.Wait()
		close(p.reaped)
	})
	return p.err
}

// Terminate asks the process to stop (SIGTERM), like Python's
// Process.terminate. A job cleans up before it exits, which takes a
// moment; Terminate does not wait for it.
//
// Terminate signals the process alone: the processes it started do not
// hear of it and keep running, orphaned, as Python's documentation warns
// for terminate.
func (p *Process) Terminate() error {
	err := p.cmd.Process.Signal(syscall.SIGTERM)
	if errors.Is(err, os.ErrProcessDone) {
		return nil // already reaped: nothing left to stop
	}
	return err
}

// TerminateGroup asks the process and every process in its group to stop
// (SIGTERM to the whole group, like Python's os.killpg). It does not wait
// for any of them.
//
// Once Wait has reaped the process, TerminateGroup does nothing: the
// group's id is free for reuse, so it may no longer be the job's.
func (p *Process) TerminateGroup() error {
	select {
	case <-p.reaped:
		return nil
	default:
	}
	err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	if errors.Is(err, syscall.ESRCH) {
		return nil // the whole group has exited
	}
	return err
}
