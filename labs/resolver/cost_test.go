package resolver

// What a goroutine, an OS thread and a process cost to start, measured by
// benchmarks you run yourself (they never run in a plain go test):
//
//	go test -run '^$' -bench . -benchtime 20x ./labs/resolver
//
// Each benchmark starts N of one kind at once, waits until all N are
// running, lets them all end, and waits until they have; an op (ns/op) is
// one such batch of N. Per start, it reports:
//
//	ns/start           the time of that whole cycle (start, run, end)
//	B/start            what the Go runtime holds for each while they run:
//	                   stacks, heap objects, span metadata (goroutines
//	                   and threads; measured on one batch, on fresh memory)
//	rss-B/start        how much this process's resident memory grows
//	                   while they run (same batch; Linux only)
//	child-rss-B/start  each child process's resident memory once it runs,
//	                   as it measures it itself (processes; on macOS its
//	                   peak resident memory)
//
// None of them counts what the kernel keeps for a thread or a process
// (its kernel stack, page tables, task struct).
//
// Run it without -race: the race detector makes everything dearer, and
// processes most of all (each child is this test binary).

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
	"time"
)

const (
	costChildEnv  = "RESOLVER_COST_CHILD" // "1" in a child process of BenchmarkStart
	costChildLife = 30 * time.Second      // a child exits after this, whatever happens
)

func init() {
	if os.Getenv(costChildEnv) != "1" {
		return
	}
	// This process is a child started by BenchmarkStart/processes: it
	// says it is running, then waits until its stdin closes (which also
	// happens when the benchmark dies).
	time.AfterFunc(costChildLife, func() { os.Exit(3) })
	fmt.Printf("ready %d\n", ownResidentMemory())
	io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// BenchmarkStart starts 1000 goroutines, 1000 OS threads (a goroutine
// locked to its thread, as StartThread does) and 20 processes at a time.
func BenchmarkStart(b *testing.B) {
	b.Run("goroutines", func(b *testing.B) { benchStart(b, 1000, false) })
	b.Run("threads", func(b *testing.B) { benchStart(b, 1000, true) })
	b.Run("processes", func(b *testing.B) { benchProcesses(b, 20) })
}

// benchStart starts n goroutines at a time, each locked to an OS thread
// of its own if locked, and measures them.
func benchStart(b *testing.B, n int, locked bool) {
	// Memory: one untimed batch, after the runtime has given freed stacks
	// and memory back, so that it pays for fresh ones.
	debug.FreeOSMemory()
	var goMem, rss int64
	goBefore, rssBefore := goMemory(), residentMemory()
	startBatch(n, locked, func() {
		goMem, rss = goMemory()-goBefore, residentMemory()-rssBefore
	})

	// Time: batch after batch, as a server would start them.
	b.ResetTimer()
	for range b.N {
		startBatch(n, locked, func() {})
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/start")
	b.ReportMetric(float64(goMem)/float64(n), "B/start")
	if haveRSS {
		b.ReportMetric(float64(rss)/float64(n), "rss-B/start")
	}
}

// startBatch starts n goroutines, each locked to an OS thread of its own
// if locked, calls running once they all run, then lets them end and
// waits until they have.
func startBatch(n int, locked bool, running func()) {
	var started, done sync.WaitGroup
	release := make(chan struct{})
	started.Add(n)
	done.Add(n)
	for range n {
		go func() {
			defer done.Done()
			if locked {
				// Never unlocked: the thread ends with the goroutine, as
				// a StartThread thread does.
				runtime.LockOSThread()
			}
			started.Done()
			<-release
		}()
	}
	started.Wait()
	running()
	close(release)
	done.Wait()
}

// goMemory is what the Go runtime holds in goroutine stacks and heap
// objects, and in the stacks of its OS threads.
func goMemory() int64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.StackInuse + m.HeapAlloc + m.MSpanInuse)
}

// benchProcesses starts n child processes at a time (this test binary,
// which says it is running and waits for its stdin to close), and
// measures them.
func benchProcesses(b *testing.B, n int) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	var childRSS int64
	for range b.N {
		cmds := make([]*exec.Cmd, n)
		stdins := make([]io.Closer, n)
		for i := range cmds {
			cmd := exec.Command(exe, "-test.run=^$", "-test.bench=^$")
			cmd.Env = append(os.Environ(), costChildEnv+"=1")
			cmd.Stderr = os.Stderr
			stdin, err := cmd.StdinPipe()
			if err != nil {
				b.Fatal(err)
			}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				b.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			cmds[i], stdins[i] = cmd, stdin
			// Wait until it runs (its runtime started, its init ran)
			// and says how much memory it holds.
			var rss int64
			line, err := bufio.NewReader(stdout).ReadString('\n')
			if _, serr := fmt.Sscanf(line, "ready %d\n", &rss); serr != nil {
				stdin.Close()
				cmd.Wait()
				b.Fatalf("child process %d said %q (%v), not ready", i+1, line, err)
			}
			childRSS += rss
		}
		for i, cmd := range cmds {
			stdins[i].Close()
			if err := cmd.Wait(); err != nil {
				b.Fatalf("child process %d: %v", i+1, err)
			}
		}
	}
	starts := float64(b.N * n)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/starts, "ns/start")
	if childRSS > 0 {
		b.ReportMetric(float64(childRSS)/starts, "child-rss-B/start")
	}
}
