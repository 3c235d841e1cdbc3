//go:build linux

package grade

import (
	"bytes"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/racelab/racelab/checker/internal/runner"
)

// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER from <linux/prctl.h>.
const prSetChildSubreaper = 36

var subreaperOnce sync.Once

// startReaper makes the grader a child subreaper, so that processes
// orphaned by a graded test binary are re-parented to the grader (and can
// be reaped by it) instead of to init. The returned function kills every
// process still carrying marker in its environment, reaps those that are
// the grader's children, and returns how many it found. It is safe to call
// more than once.
func startReaper(marker string) func() int {
	subreaperOnce.Do(func() {
		syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)
	})
	var once sync.Once
	n := 0
	return func() int {
		once.Do(func() { n = killMarked(marker) })
		return n
	}
}

// killMarked kills the processes whose environment holds marker.
func killMarked(marker string) int {
	self := os.Getpid()
	var found []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if string(kv) == marker {
				found = append(found, pid)
				break
			}
		}
	}
	for _, pid := range found {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	// Reap the ones re-parented to the grader, so no zombie is left.
	deadline := time.Now().Add(2 * time.Second)
	for _, pid := range found {
		for time.Now().Before(deadline) && runner.ParentPID(pid) == self {
			var ws syscall.WaitStatus
			if got, _ := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil); got == pid {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return len(found)
}
