package election

// This file is the election's process plumbing: what a precinct and its
// votes are, the ledger file the workers share, and how a worker process
// is started, fed and waited for. You do not need to change it.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Totals are votes per candidate.
type Totals map[string]int

// Add adds the votes of u to t.
func (t Totals) Add(u Totals) {
	for name, n := range u {
		t[name] += n
	}
}

// Sum returns the number of votes in t.
func (t Totals) Sum() int {
	n := 0
	for _, v := range t {
		n += v
	}
	return n
}

// String returns t as text, one "candidate votes" line per candidate, in
// name order; [ParseTotals] reads it back.
func (t Totals) String() string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(t)) {
		fmt.Fprintf(&b, "%s %d\n", name, t[name])
	}
	return b.String()
}

// ParseTotals parses totals written by [Totals.String].
func ParseTotals(text []byte) (Totals, error) {
	t := Totals{}
	for line := range strings.Lines(string(text)) {
		name, n, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			if strings.TrimSpace(line) == "" {
				continue
			}
			return nil, fmt.Errorf("bad totals line %q", line)
		}
		v, err := strconv.Atoi(n)
		if err != nil {
			return nil, fmt.Errorf("bad totals line %q: %w", line, err)
		}
		t[name] += v
	}
	return t, nil
}

// A Precinct is one polling station's ballot box. Each ballot names one
// candidate; an empty ballot is spoiled, which stops the count.
type Precinct struct {
	Name    string
	Ballots []string
}

// Count counts p's ballots.
func (p Precinct) Count() (Totals, error) {
	t := Totals{}
	for i, b := range p.Ballots {
		if b == "" {
			return nil, fmt.Errorf("precinct %s: ballot %d is spoiled", p.Name, i+1)
		}
		t[b]++
	}
	return t, nil
}

// A Ledger is the file that holds the election's running totals. Every
// worker process opens it by its path, reads it and writes it; no process
// sees the others' memory, only the file.
//
// Its methods are safe for concurrent use by the goroutines of one
// process. Across processes, nothing orders one process's Read and Write
// against another's, except the ledger's lock.
type Ledger struct {
	Path string // the ledger file; a missing file holds no votes

	// trace, if set, is told what the ledger is doing. The tests watch
	// the worker processes through it; it is nil otherwise.
	trace func(event string, locked bool)

	mu   sync.Mutex // protects held
	held int        // Lock calls of this process not yet unlocked
}

// OpenLedger returns the ledger at path.
func OpenLedger(path string) *Ledger { return &Ledger{Path: path} }

// Read returns the totals in the ledger.
func (l *Ledger) Read() (Totals, error) {
	text, err := os.ReadFile(l.Path)
	if errors.Is(err, os.ErrNotExist) {
		text, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	t, err := ParseTotals(text)
	if err != nil {
		return nil, fmt.Errorf("ledger %s: %w", l.Path, err)
	}
	l.event("read")
	return t, nil
}

// Write replaces the totals in the ledger with t. A Read in another
// process sees either the old totals or the new ones, never a mix.
func (l *Ledger) Write(t Totals) error {
	tmp, err := os.CreateTemp(filepath.Dir(l.Path), filepath.Base(l.Path)+".*")
	if err != nil {
		return err
	}
	if _, err := tmp.WriteString(t.String()); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), l.Path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	l.event("write")
	return nil
}

// Lock takes the ledger's lock, waiting until no other process holds it,
// and returns the function that releases it. It is a file lock (flock on
// Path+".lock"), so it works between processes, as Python's
// multiprocessing.Lock does; a sync.Mutex lives in one process's memory
// and orders nothing between processes.
//
// The lock belongs to the process: take it once, release it once.
func (l *Ledger) Lock() (unlock func() error, err error) {
	l.event("lock")
	f, err := os.OpenFile(l.Path+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking ledger %s: %w", l.Path, err)
	}
	l.mu.Lock()
	l.held++
	l.mu.Unlock()
	l.event("locked")
	var once sync.Once
	return func() error {
		var err error
		once.Do(func() {
			l.mu.Lock()
			l.held--
			l.mu.Unlock()
			err = f.Close() // closing the file releases the lock
			l.event("unlock")
		})
		return err
	}, nil
}

// event tells the trace, if any, what the ledger did.
func (l *Ledger) event(what string) {
	if l.trace == nil {
		return
	}
	l.mu.Lock()
	locked := l.held > 0
	l.mu.Unlock()
	l.trace(what, locked)
}

// ServeWorker is the main function of a worker process: it reads its
// precinct from in (as [Start] sends it), counts the ballots, and calls
// [Report] with ledger, the precinct's votes and out, the worker's stdout.
func ServeWorker(ledger *Ledger, in io.Reader, out io.Writer) error {
	p, err := readPrecinct(in)
	if err != nil {
		return err
	}
	ledger.event("count")
	votes, err := p.Count()
	if err != nil {
		return err
	}
	return Report(ledger, votes, out)
}

// A Spawner starts a worker process for a precinct. The process counts
// the precinct's ballots and calls [Report] (see [ServeWorker]). It is
// killed when ctx is done.
type Spawner func(ctx context.Context, p Precinct) (*Worker, error)

// A Worker is a running worker process.
type Worker struct {
	cmd *exec.Cmd
	ctx context.Context
	out bytes.Buffer // the worker's stdout, filled by the command's own goroutine

	once   sync.Once
	err    error         // what Wait returns; set before reaped is closed
	reaped chan struct{} // closed once Wait has reaped the process
}

// Start starts cmd, a command made with [os/exec.CommandContext] for ctx
// that runs [ServeWorker], and sends it p on its stdin.
func Start(ctx context.Context, cmd *exec.Cmd, p Precinct) (*Worker, error) {
	w := &Worker{cmd: cmd, ctx: ctx, reaped: make(chan struct{})}
	var in bytes.Buffer
	writePrecinct(&in, p)
	cmd.Stdin, cmd.Stdout = &in, &w.out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return w, nil
}

// Wait waits for the worker to exit and reaps it, like Python's
// Process.join. It returns everything the worker wrote to its stdout, and
// an error if it failed: one that wraps ctx.Err() if it was killed because
// ctx was done.
//
// It may be called more than once, from any goroutine: every call returns
// once the worker has been reaped, with the same results.
func (w *Worker) Wait() (output []byte, err error) {
	w.once.Do(func() {
		err := w.cmd.Wait()
		if err != nil && w.ctx.Err() != nil {
			err = fmt.Errorf("%w (the worker was killed: %v)", w.ctx.Err(), err)
		}
		w.err = err
		close(w.reaped)
	})
	return w.out.Bytes(), w.err
}

// writePrecinct sends p as its name, then one ballot a line.
func writePrecinct(w io.Writer, p Precinct) {
	fmt.Fprintln(w, p.Name)
	for _, b := range p.Ballots {
		fmt.Fprintln(w, b)
	}
}

func readPrecinct(r io.Reader) (Precinct, error) {
	sc := bufio.NewScanner(r)
	if !sc.Scan() {
		return Precinct{}, fmt.Errorf("reading the precinct: %v", sc.Err())
	}
	p := Precinct{Name: sc.Text()}
	for sc.Scan() {
		p.Ballots = append(p.Ballots, sc.Text())
	}
	return p, sc.Err()
}
