// Package catalog loads and checks Racelab's curriculum: the ordered list
// of labs and everything the checker knows about each one.
//
// A lab is two folders and one line. labs/<id>/ holds what the learner
// sees: the code, the tests, README.md, the lab's metadata (lab.yaml) and
// its progressive hints (HINTS.md). solutions/<id>/ holds the reference
// solution and, under testdata/variants/, the other fixes that prove the
// tests. labs/curriculum.txt lists the ids in curriculum order. [Load]
// reads them into a [Catalog]; what can be derived (the tests a lab must
// pass) is read from the code. [Catalog.Check] compares the catalog with
// the folders in both directions.
package catalog

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// A Kind names what went wrong in a test run, in the learner's terms.
type Kind string

// The kinds of failure the checker reports. The first group is what a lab
// is declared to show; the second group is what a broken edit can cause.
const (
	Race       Kind = "race"       // the race detector saw unsynchronized accesses
	Deadlock   Kind = "deadlock"   // goroutines wait for each other forever, or locks are taken in an order that can deadlock
	Leak       Kind = "leak"       // goroutines or child processes outlive the call that started them
	Overspawn  Kind = "overspawn"  // more processes (or goroutines) at once than the bound
	Serialized Kind = "serialized" // work that must overlap ran one piece at a time

	Timeout     Kind = "timeout"      // a test ran out of time
	Panic       Kind = "panic"        // the code panicked
	WrongResult Kind = "wrong result" // a test's assertion failed
	BuildError  Kind = "build error"  // the lab does not compile
	VetError    Kind = "vet error"    // go vet, as run by go test, rejected the code
	Rejected    Kind = "rejected"     // the grader would not accept the code (a forbidden import, a directive, a missing file)
)

// Kinds lists every kind, in the order the checker ranks them when a test
// shows several: a detector's report outranks the assertion it caused.
// A rejection ranks last: while the tests fail, what they say matters more.
var Kinds = []Kind{BuildError, VetError, Race, Deadlock, Leak, Overspawn, Serialized, Timeout, Panic, WrongResult, Rejected}

// Block is a part of the curriculum; blocks run in the order of [Blocks].
type Block string

// The curriculum's blocks, easiest first.
const (
	SharedState Block = "shared state"
	Joining     Block = "joining"
	Leaks       Block = "leaks"
	Locks       Block = "locks"
	Queues      Block = "queues and pipes"
	Executors   Block = "executors"
	Processes   Block = "processes"
)

// Blocks lists the blocks in curriculum order.
var Blocks = []Block{SharedState, Joining, Leaks, Locks, Queues, Executors, Processes}

// A Lab is one exercise: a package under labs/ mirrored by one under
// solutions/. Its fields come from labs/<id>/lab.yaml and HINTS.md, except
// Tests, which is read from the lab's test files.
type Lab struct {
	ID         string // directory and package name under labs/ and solutions/
	Title      string // one line, names the system, not the bug
	Block      Block
	Difficulty int    // 1 (warm-up) to 3 (hard)
	Minutes    int    // estimated time to fix
	Pitfall    string // the Go pitfall, in a few words ("data race on shared counters")
	Python     string // the idea from the Python articles the lab maps to
	Study      string // the real-world bug study category it belongs to, if any
	Summary    string // what the learner's code does, one sentence
	Points     int    // credit when every test passes under grading
	// TestPoints, when set, splits Points over Tests (lab.yaml's
	// test_points): a lab that fails grading still earns the points of
	// each test that passed. When nil, a lab earns all or nothing.
	TestPoints map[string]int

	// Kinds are the failure kinds the broken lab shows; verify requires
	// exactly these on every run.
	Kinds []Kind
	// Files are the files a learner edits, relative to the lab directory.
	// Everything else in the lab is pristine: grading takes only these
	// files from a submission.
	Files []string
	// Tests are the top-level tests of the lab, in source order. Grading
	// requires each to report its own verdict.
	Tests []string
	// Imports are the packages, beyond SafeImports, that a learner's files
	// may import under grading.
	Imports []string
	// Hints are shown one at a time on request; the last nearly gives the
	// answer.
	Hints []string

	// Err is set when the lab's folder or metadata could not be loaded:
	// the lab is still in the catalog (it is in the curriculum order), so
	// commands report it, alone, with this error instead of dropping it.
	Err error
}

// SafeImports are the standard packages any learner's file may import
// under grading: enough to write any fix, and none that reaches the
// process, the file system, the network, other processes, reflection,
// unsafe memory or the test framework (os, syscall, unsafe, reflect,
// runtime, testing, flag, log, net and their kin are left out on purpose).
var SafeImports = []string{
	"bufio", "bytes", "cmp", "container/heap", "container/list", "context", "errors", "fmt",
	"io", "iter", "maps", "math", "math/rand/v2", "slices", "sort", "strconv", "strings",
	"sync", "sync/atomic", "time", "unicode", "unicode/utf8",
}

// MayImport reports whether a learner's file in the lab may import path.
func (l Lab) MayImport(path string) bool {
	return slices.Contains(SafeImports, path) || slices.Contains(l.Imports, path)
}

// Dir is the lab's directory relative to the repository root.
func (l Lab) Dir() string { return "labs/" + l.ID }

// SolutionDir is the reference solution's directory relative to the
// repository root.
func (l Lab) SolutionDir() string { return "solutions/" + l.ID }

// Declares reports whether k is one of the lab's declared kinds.
func (l Lab) Declares(k Kind) bool { return slices.Contains(l.Kinds, k) }

// Catalog is the ordered list of labs.
type Catalog []Lab

// Lookup returns the lab with the given id.
func (c Catalog) Lookup(id string) (Lab, bool) {
	for _, l := range c {
		if l.ID == id {
			return l, true
		}
	}
	return Lab{}, false
}

// IDs returns the lab ids in catalog order.
func (c Catalog) IDs() []string {
	ids := make([]string, len(c))
	for i, l := range c {
		ids[i] = l.ID
	}
	return ids
}

// Closest returns up to n ids nearest to name by edit distance, nearest
// first, for "did you mean" messages.
func (c Catalog) Closest(name string, n int) []string {
	type scored struct {
		id   string
		dist int
	}
	var all []scored
	for _, l := range c {
		d := distance(strings.ToLower(name), l.ID)
		if strings.Contains(l.ID, strings.ToLower(name)) {
			d = 0
		}
		all = append(all, scored{l.ID, d})
	}
	slices.SortStableFunc(all, func(a, b scored) int { return a.dist - b.dist })
	var out []string
	for _, s := range all {
		if len(out) == n || s.dist > max(3, len(name)/2) {
			break
		}
		out = append(out, s.id)
	}
	return out
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// validate checks the catalog's own consistency, without looking at disk:
// each loaded lab's metadata, unique ids, and blocks in curriculum order.
func (c Catalog) validate() error {
	var errs []string
	seen := map[string]bool{}
	lastBlock := -1
	for _, l := range c {
		where := path.Join(l.Dir(), MetaFile)
		if seen[l.ID] {
			errs = append(errs, fmt.Sprintf("%s: %s is listed twice", OrderFile, l.ID))
		}
		seen[l.ID] = true
		if l.Err != nil {
			continue // reported by Check, with what to do
		}
		for _, p := range l.validate() {
			errs = append(errs, where+": "+p)
		}
		switch b := slices.Index(Blocks, l.Block); {
		case b < 0:
		case b < lastBlock:
			errs = append(errs, fmt.Sprintf("%s: %s (block %q) comes after a lab of block %q; keep the curriculum order %s",
				OrderFile, l.ID, l.Block, Blocks[lastBlock], quoteList(Blocks)))
		default:
			lastBlock = b
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("the catalog is inconsistent:\n  %s", strings.Join(errs, "\n  "))
	}
	return nil
}
