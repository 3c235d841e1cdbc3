//go:build linux

package runner

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

// groupAttr starts a process in a process group of its own, which dies
// with the checker.
func groupAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// groupRSS sums the resident memory of every process in process group pgid.
func groupRSS(pgid int) int64 {
	var total int64
	for _, pid := range GroupMembers(pgid) {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
		if err != nil {
			continue
		}
		f := strings.Fields(string(data))
		if len(f) < 2 {
			continue
		}
		pages, _ := strconv.ParseInt(f[1], 10, 64)
		total += pages * int64(os.Getpagesize())
	}
	return total
}

// GroupMembers lists the processes whose process group is pgid.
func GroupMembers(pgid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		if g, ok := procPgid(pid); ok && g == pgid {
			pids = append(pids, pid)
		}
	}
	return pids
}

// procPgid reads a process's group from /proc/pid/stat. The fields after
// the command name (which may itself hold spaces) are: state, ppid, pgrp.
func procPgid(pid int) (int, bool) { return procField(pid, 2) }

// ParentPID returns a process's parent, or 0 when it is gone.
func ParentPID(pid int) int {
	ppid, _ := procField(pid, 1)
	return ppid
}

// procField reads field i (0 is the state) after the command name in
// /proc/pid/stat.
func procField(pid, i int) (int, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(data)
	j := strings.LastIndexByte(s, ')')
	if j < 0 {
		return 0, false
	}
	f := strings.Fields(s[j+1:])
	if len(f) <= i {
		return 0, false
	}
	n, err := strconv.Atoi(f[i])
	return n, err == nil
}

// reapAdopted waits for those of pids that became this process's children:
// a grader that is a child subreaper adopts what a killed test binary left
// behind, and must reap it or keep a zombie.
func reapAdopted(pids []int) {
	self := os.Getpid()
	for _, pid := range pids {
		if ParentPID(pid) == self {
			var ws syscall.WaitStatus
			syscall.Wait4(pid, &ws, 0, nil)
		}
	}
}

// setFileLimits caps the size of any file the process pid writes and
// turns its core dumps off; its children inherit both. It is best
// effort: the disk watch still holds if the kernel refuses.
func setFileLimits(pid int, fileSize int64) {
	if fileSize > 0 {
		prlimit(pid, syscall.RLIMIT_FSIZE, uint64(fileSize))
	}
	prlimit(pid, syscall.RLIMIT_CORE, 0)
}

func prlimit(pid, resource int, v uint64) error {
	lim := syscall.Rlimit{Cur: v, Max: v}
	_, _, e := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), uintptr(resource), uintptr(unsafe.Pointer(&lim)), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}
