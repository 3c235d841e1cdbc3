package rt_test

import (
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/racelab/racelab/checker/internal/doctor/rt"
)

// Each scenario runs in a child process (this test binary, re-run with
// RT_SCENARIO set), because what rt does on a deadline is end the process.

type result struct {
	out  string
	exit int
}

func scenario(t *testing.T, name string, env ...string) result {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestScenario$", "-test.v", "-test.timeout=60s")
	cmd.Env = append(os.Environ(), "RT_SCENARIO="+name, "RACELAB_DOCTOR_DEADLINE=1s", "RACELAB_DOCTOR_SETTLE=200ms", "GORACE=atexit_sleep_ms=0")
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{string(out), code}
}

func (r result) must(t *testing.T, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(r.out, w) {
			t.Errorf("output lacks %q (exit %d):\n%s", w, r.exit, r.out)
		}
	}
}

func (r result) mustNot(t *testing.T, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(r.out, b) {
			t.Errorf("output has %q (exit %d):\n%s", b, r.exit, r.out)
		}
	}
}

func lockAndReturn(m *rt.Mutex) { m.Lock() }

func lockBoth(a, b *rt.Mutex) {
	a.Lock()
	b.Lock()
	b.Unlock()
	a.Unlock()
}

func TestScenario(t *testing.T) {
	switch os.Getenv("RT_SCENARIO") {
	case "":
		t.Skip("a child process of the other tests")
	case "double lock":
		rt.Run(t, func(t *testing.T) {
			var m rt.Mutex
			m.Lock()
			m.Lock()
		})
	case "inversion":
		rt.Run(t, func(t *testing.T) {
			var a, b rt.Mutex
			lockBoth(&a, &b)
			lockBoth(&b, &a) // sequential: no hang, still reported
		})
	case "guarded":
		rt.Run(t, func(t *testing.T) {
			var gate, a, b rt.Mutex
			gate.Lock()
			lockBoth(&a, &b)
			gate.Unlock()
			gate.Lock()
			lockBoth(&b, &a)
			gate.Unlock()
		})
	case "cycle of three":
		rt.Run(t, func(t *testing.T) {
			var a, b, c rt.Mutex
			lockBoth(&a, &b)
			lockBoth(&b, &c)
			lockBoth(&c, &a)
		})
	case "never released":
		rt.Run(t, func(t *testing.T) {
			var m rt.Mutex
			lockAndReturn(&m)
			m.Lock()
		})
	case "recursive read":
		rt.Run(t, func(t *testing.T) {
			var rw rt.RWMutex
			rw.RLock()
			rw.RLock()
			rw.RUnlock()
			rw.RUnlock()
		})
	case "leak":
		rt.Run(t, func(t *testing.T) {
			ch := make(chan int)
			go func() { ch <- 1 }()
		})
	case "deadline":
		rt.Run(t, func(t *testing.T) {
			var m rt.Mutex
			m.Lock()
			done := make(chan bool)
			go func() {
				m.Lock()
				done <- true
			}()
			<-done
		})
	case "handoff":
		rt.Run(t, func(t *testing.T) {
			// Unlocking from another goroutine is legal; so is a Cond.
			var m rt.Mutex
			m.Lock()
			done := make(chan bool)
			go func() {
				m.Unlock()
				done <- true
			}()
			<-done
			var mu rt.Mutex
			c := sync.NewCond(&mu)
			ready := false
			go func() {
				mu.Lock()
				ready = true
				mu.Unlock()
				c.Signal()
			}()
			mu.Lock()
			for !ready {
				c.Wait()
			}
			mu.Unlock()
			var rw rt.RWMutex
			rw.RLock()
			if rw.TryLock() {
				t.Error("TryLock succeeded while read-locked")
			}
			rw.RUnlock()
			if !rw.TryLock() {
				t.Error("TryLock failed on a free lock")
			}
			rw.Unlock()
		})
	case "race":
		rt.Run(t, func(t *testing.T) {
			// Each goroutine locks a lock of its own around the same
			// counter, as a mutex copied by value does (Chabbi and
			// Ramanathan): go-deadlock's global lock orders them.
			locks := make([]rt.Mutex, 4)
			n := 0
			var wg sync.WaitGroup
			for i := range locks {
				wg.Add(1)
				go func(mu *rt.Mutex) {
					defer wg.Done()
					for j := 0; j < 50; j++ {
						mu.Lock()
						n++
						mu.Unlock()
					}
				}(&locks[i])
			}
			wg.Wait()
		})
	case "parallel":
		rt.Run(t, func(t *testing.T) {
			t.Parallel()
			time.Sleep(10 * time.Millisecond)
		})
	case "slow":
		rt.Run(t, func(t *testing.T) {
			time.Sleep(300 * time.Millisecond) // well within the deadline
		})
	default:
		t.Fatalf("no scenario %q", os.Getenv("RT_SCENARIO"))
	}
}

func TestDoubleLock(t *testing.T) {
	r := scenario(t, "double lock")
	r.must(t, "racelab-doctor: double lock TestScenario: goroutine", "wants lock 1 (sync.Mutex) that it already holds",
		"racelab-doctor: deadline TestScenario: did not finish within 1s",
		"holds lock 1 (sync.Mutex) since", "waits for lock 1 (sync.Mutex) since", "rt_test.go:", "racelab-doctor: goroutine dump:")
	if r.exit != 2 {
		t.Errorf("exit %d, want 2", r.exit)
	}
}

func TestNeverReleased(t *testing.T) {
	r := scenario(t, "never released")
	r.must(t, "racelab-doctor: lock never released TestScenario:", "rt_test.lockAndReturn(...)")
	r.mustNot(t, "double lock")
}

func TestInversion(t *testing.T) {
	r := scenario(t, "inversion")
	r.must(t, "racelab-doctor: lock-order inversion TestScenario:", "took them in the opposite order",
		"then took lock", "rt_test.lockBoth(...)")
	if r.exit != 1 {
		t.Errorf("exit %d, want 1 (the test fails)", r.exit)
	}
}

func TestGuardedOrderIsNoInversion(t *testing.T) {
	r := scenario(t, "guarded")
	r.mustNot(t, "racelab-doctor:")
	if r.exit != 0 {
		t.Errorf("exit %d, want 0:\n%s", r.exit, r.out)
	}
}

func TestCycleOfThree(t *testing.T) {
	scenario(t, "cycle of three").must(t, "racelab-doctor: lock-order inversion TestScenario:")
}

func TestRecursiveRead(t *testing.T) {
	scenario(t, "recursive read").must(t, "racelab-doctor: recursive read lock TestScenario:", "sync.RWMutex read lock")
}

func TestLeak(t *testing.T) {
	r := scenario(t, "leak")
	r.must(t, "racelab-doctor: leak TestScenario: 1 goroutine still running", "[chan send", "racelab-doctor: end")
	if r.exit != 1 {
		t.Errorf("exit %d, want 1", r.exit)
	}
}

func TestDeadline(t *testing.T) {
	r := scenario(t, "deadline")
	r.must(t, "racelab-doctor: deadline TestScenario:", "unchanged for", "waits for lock 1 (sync.Mutex)", "[sync.Mutex.Lock")
	r.mustNot(t, "double lock")
}

func TestNoFalseReports(t *testing.T) {
	for _, s := range []string{"handoff", "slow"} {
		r := scenario(t, s)
		r.mustNot(t, "racelab-doctor:", "DATA RACE")
		if r.exit != 0 {
			t.Errorf("%s: exit %d, want 0:\n%s", s, r.exit, r.out)
		}
	}
}

// TestRacesStayVisible is why rt exists instead of go-deadlock: the
// checker's bookkeeping must not order the user's goroutines, or races
// between them disappear.
func TestRacesStayVisible(t *testing.T) {
	if !raceEnabled {
		t.Skip("needs -race")
	}
	scenario(t, "race").must(t, "WARNING: DATA RACE")
}

func TestParallelSkipsLeakCheck(t *testing.T) {
	scenario(t, "parallel").must(t, "racelab-doctor: note TestScenario: leak check skipped")
}

func TestLocksOff(t *testing.T) {
	r := scenario(t, "inversion", "RACELAB_DOCTOR_LOCKS=0")
	r.mustNot(t, "racelab-doctor:")
}
