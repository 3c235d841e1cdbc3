package diagnose

import (
	"regexp"
	"strconv"
	"strings"
)

// A Frame is one function call in a stack trace.
type Frame struct {
	Func string // e.g. "github.com/racelab/racelab/labs/bank.(*Bank).Transfer"
	File string // as printed: absolute in runtime traces, a base name in go-deadlock reports
	Line int
	// CreatedBy marks the "created by" pseudo-frame of a goroutine dump: the
	// go statement that started the goroutine.
	CreatedBy bool
}

// A goroutine is one entry of a runtime goroutine dump.
type goroutine struct {
	ID     int
	State  string // e.g. "chan send (durable)", "sync.Mutex.Lock", "running"
	Bubble bool   // the goroutine belongs to a testing/synctest bubble
	Frames []Frame
}

// Upstream text, runtime/traceback.go (goroutineheader):
//
//	goroutine 23 [chan send (durable), synctest bubble 1]:
//	goroutine 21 [sync.Mutex.Lock, 2 minutes]:
var goroutineHeader = regexp.MustCompile(`^goroutine (\d+) (?:gp=\S+ m=\S+ (?:mp.id=\d+ )?)?\[([^\]]*)\]:$`)

// Upstream text, runtime/traceback.go (printFuncName, printcreatedby) and the
// race runtime (tsan's "  pkg.fn()" / "      /path/file.go:12 +0x7b"):
//
//	probe/st.TestLeak.func1.1()
//		/tmp/probe/st/st_test.go:29 +0x3d
//	created by probe/st.TestLeak.func1 in goroutine 22
var (
	fileLine  = regexp.MustCompile(`^\s+(\S+\.(?:go|s)):(\d+)(?: \+0x[0-9a-f]+)?$`)
	createdBy = regexp.MustCompile(`^\s*created by (\S+)(?: in goroutine \d+)?$`)
)

// parseFrames reads the frames of one stack: function lines each followed by
// a file:line line. Lines that are neither are skipped.
func parseFrames(lines []string) []Frame {
	var frames []Frame
	for i := 1; i < len(lines); i++ {
		m := fileLine.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		fn := strings.TrimSpace(lines[i-1])
		if fileLine.MatchString(lines[i-1]) || fn == "" {
			continue
		}
		line, _ := strconv.Atoi(m[2])
		f := Frame{File: m[1], Line: line}
		if c := createdBy.FindStringSubmatch(lines[i-1]); c != nil {
			f.Func, f.CreatedBy = c[1], true
		} else {
			f.Func = trimArgs(fn)
		}
		frames = append(frames, f)
	}
	return frames
}

// trimArgs turns "pkg.fn(0xc000, ...)" into "pkg.fn".
func trimArgs(fn string) string {
	if i := strings.LastIndex(fn, "("); i > 0 && strings.HasSuffix(fn, ")") {
		// Keep method receivers such as pkg.(*T).M: cut only the final call.
		return fn[:i]
	}
	return fn
}

// parseGoroutines reads every goroutine of a runtime dump found in lines.
func parseGoroutines(lines []string) []goroutine {
	var out []goroutine
	for i := 0; i < len(lines); i++ {
		m := goroutineHeader.FindStringSubmatch(strings.TrimSpace(lines[i]))
		if m == nil {
			continue
		}
		end := i + 1
		for end < len(lines) && strings.TrimSpace(lines[end]) != "" && !goroutineHeader.MatchString(strings.TrimSpace(lines[end])) {
			end++
		}
		id, _ := strconv.Atoi(m[1])
		state := m[2]
		bubble := strings.Contains(state, "synctest bubble")
		if j := strings.Index(state, ", "); j >= 0 {
			state = state[:j]
		}
		out = append(out, goroutine{ID: id, State: state, Bubble: bubble, Frames: parseFrames(lines[i+1 : end])})
		i = end - 1
	}
	return out
}

// blockedStates are goroutine states that mean "waiting for another
// goroutine", as printed by the runtime (runtime/runtime2.go waitReasonStrings).
var blockedStates = []string{
	"chan send", "chan receive", "select", "select (no cases)", "sync.Mutex.Lock",
	"sync.RWMutex.Lock", "sync.RWMutex.RLock", "sync.Cond.Wait", "sync.WaitGroup.Wait",
	"semacquire", "nil chan send", "nil chan receive",
}

// waiting reports whether a goroutine in this state is parked rather than
// executing (sleeping, waiting for I/O or for another goroutine).
func waiting(state string) bool {
	switch strings.TrimSuffix(state, " (durable)") {
	case "running", "runnable", "syscall", "idle", "dead", "copystack", "preempted":
		return false
	}
	return true
}

func isBlocked(state string) bool {
	state = strings.TrimSuffix(state, " (durable)")
	if i := strings.Index(state, ","); i >= 0 {
		state = state[:i]
	}
	for _, s := range blockedStates {
		if state == s || strings.HasPrefix(state, s+" (") {
			return true
		}
	}
	return false
}

// A lockSite is one line of a go-deadlock report:
//
//	bank.go:33 bank.(*Bank).Transfer { src.mu.Lock() } <<<<<
//
// Upstream text: github.com/sasha-s/go-deadlock, stacktraces.go (printStack).
var lockSite = regexp.MustCompile(`^\s*(\S+\.go):(\d+) (\S+) \{ (.*) \}( <<<<<)?$`)

func parseLockSites(lines []string) []Frame {
	var out []Frame
	for _, l := range lines {
		if m := lockSite.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[2])
			out = append(out, Frame{File: m[1], Line: n, Func: m[3]})
		}
	}
	return out
}
