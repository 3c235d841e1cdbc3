package rt

import (
	"bytes"
	"fmt"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
)

// The runtime's own leak detector (Go 1.26, GOEXPERIMENT=goroutineleakprofile):
// writing the "goroutineleak" profile runs a garbage collection that marks
// goroutines blocked on channels and locks no running goroutine can reach
// as leaked; their state then reads "chan send (leaked)". Without the
// experiment the profile does not exist and these functions do nothing.

var (
	reportedMu sync.Mutex         // protects reported
	reported   = map[int64]bool{} // leaked goroutines already reported by the profile path
)

// leakDump returns every goroutine, after the runtime's leak detector
// marked the leaked ones, or nil when the doctor did not ask for it or the
// toolchain lacks it.
func leakDump() []gor {
	if !cfg.leakProfile {
		return nil
	}
	p := pprof.Lookup("goroutineleak")
	if p == nil {
		return nil
	}
	var b bytes.Buffer
	if err := p.WriteTo(&b, 2); err != nil {
		return nil
	}
	return parseDump(b.Bytes())
}

func isLeaked(g gor) bool { return strings.HasSuffix(g.state, "(leaked)") }

// leakedIDs returns the goroutines the runtime's leak detector finds
// leaked, or nil without the detector.
func leakedIDs() map[int64]bool {
	gs := leakDump()
	if gs == nil {
		return nil
	}
	ids := map[int64]bool{}
	for _, g := range gs {
		if isLeaked(g) {
			ids[g.id] = true
		}
	}
	return ids
}

// leakProfile reports, for a test the snapshot check cannot judge (one
// that called t.Parallel), the goroutines the runtime's leak detector
// finds leaked that the test's goroutine started. It reports whether it
// found any.
func leakProfile(name string, testG int64) bool {
	var leaked []gor
	reportedMu.Lock()
	for _, g := range leakDump() {
		if isLeaked(g) && g.creator == testG && g.user() && !reported[g.id] {
			reported[g.id] = true
			leaked = append(leaked, g)
		}
	}
	reportedMu.Unlock()
	if len(leaked) == 0 {
		return false
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "racelab-doctor: leak %s: %d goroutines started by the test can never run again (runtime leak detector)\n", name, len(leaked))
	var ids []string
	for _, g := range leaked {
		ids = append(ids, strconv.FormatInt(g.id, 10))
	}
	fmt.Fprintf(&b, "racelab-doctor: leaked goroutines: %s\n", strings.Join(ids, " "))
	b.WriteString("racelab-doctor: goroutine dump:\n")
	for _, g := range leaked {
		b.WriteString(g.text)
		b.WriteString("\n\n")
	}
	b.WriteString("racelab-doctor: end\n")
	writeStderr(b.Bytes())
	return true
}
