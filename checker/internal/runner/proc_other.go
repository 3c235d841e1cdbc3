//go:build !linux

package runner

import (
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// groupAttr starts a process in a process group of its own. Outside Linux
// a child cannot ask to die with its parent; the checker kills its groups
// itself when it is interrupted.
func groupAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// proc is one line of ps.
type proc struct{ pid, ppid, pgid, rssKiB int }

// processes lists every process, from ps: there is no /proc on macOS.
func processes() []proc {
	out, err := exec.Command("ps", "-A", "-o", "pid=,ppid=,pgid=,rss=").Output()
	if err != nil {
		return nil
	}
	var ps []proc
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 4 {
			continue
		}
		var p proc
		var errs [4]error
		p.pid, errs[0] = strconv.Atoi(f[0])
		p.ppid, errs[1] = strconv.Atoi(f[1])
		p.pgid, errs[2] = strconv.Atoi(f[2])
		p.rssKiB, errs[3] = strconv.Atoi(f[3])
		if errs[0] == nil && errs[1] == nil && errs[2] == nil && errs[3] == nil {
			ps = append(ps, p)
		}
	}
	return ps
}

// groupRSS sums the resident memory of every process in process group pgid.
func groupRSS(pgid int) int64 {
	var total int64
	for _, p := range processes() {
		if p.pgid == pgid {
			total += int64(p.rssKiB) << 10
		}
	}
	return total
}

// GroupMembers lists the processes whose process group is pgid.
func GroupMembers(pgid int) []int {
	var pids []int
	for _, p := range processes() {
		if p.pgid == pgid {
			pids = append(pids, p.pid)
		}
	}
	return pids
}

// reapAdopted does nothing outside Linux: only Linux lets the checker
// adopt orphans (a child subreaper), so there is nothing of theirs to reap.
func reapAdopted(pids []int) {}

// ParentPID returns a process's parent, or 0 when it is gone.
func ParentPID(pid int) int {
	for _, p := range processes() {
		if p.pid == pid {
			return p.ppid
		}
	}
	return 0
}

// setFileLimits would cap the size of the files a process group writes;
// outside Linux one process cannot set another's limits, so it does
// nothing and the disk watch alone bounds a build.
func setFileLimits(pid int, fileSize int64) {}
