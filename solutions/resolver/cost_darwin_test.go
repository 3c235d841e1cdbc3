//go:build darwin

package resolver

import "syscall"

const haveRSS = false // no portable way to read it without cgo

func residentMemory() int64 { return 0 }

// ownResidentMemory is this process's peak resident memory, in bytes, as
// a child process reports it.
func ownResidentMemory() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss // bytes on macOS
}
