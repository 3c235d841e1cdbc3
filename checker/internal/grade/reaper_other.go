//go:build !linux

package grade

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
)

// startReaper returns a function that kills every process still carrying
// marker in its environment and returns how many it found. Outside Linux
// a process cannot adopt the orphans of its children (there is no child
// subreaper), so those it finds are killed and left to init to reap;
// the environment is read from ps, which shows it (BSD's `e` keyword) for
// the user's own processes.
func startReaper(marker string) func() int {
	var once sync.Once
	n := 0
	return func() int {
		once.Do(func() { n = killMarked(marker) })
		return n
	}
}

func killMarked(marker string) int {
	out, err := exec.Command("ps", "-axeww", "-o", "pid=,command=").Output()
	if err != nil {
		return 0
	}
	self, n := os.Getpid(), 0
	for _, line := range bytes.Split(out, []byte("\n")) {
		fields := bytes.Fields(line)
		if len(fields) < 2 || !bytes.Contains(line, []byte(" "+marker)) {
			continue
		}
		pid, err := strconv.Atoi(string(fields[0]))
		if err != nil || pid == self {
			continue
		}
		syscall.Kill(pid, syscall.SIGKILL)
		n++
	}
	return n
}
