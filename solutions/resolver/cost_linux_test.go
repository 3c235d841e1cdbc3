//go:build linux

package resolver

import (
	"os"
	"strconv"
	"strings"
)

const haveRSS = true

// residentMemory is this process's resident memory, in bytes.
func residentMemory() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(b))
	if len(fields) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(fields[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// ownResidentMemory is this process's resident memory, in bytes, as a
// child process reports it. (Not getrusage: on Linux, a child started with
// vfork, as os/exec does, inherits its parent's peak in ru_maxrss.)
func ownResidentMemory() int64 { return residentMemory() }
