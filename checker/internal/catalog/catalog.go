// Package catalog is Racelab's curriculum: the ordered list of labs and
// everything the checker knows about each one.
//
// The catalog is the single source of truth for a lab's id, title, block,
// difficulty, hints, the failure kinds its broken code is declared to show,
// the files a learner edits, the tests it must pass and the packages a
// learner's files may import. [Check] compares it with the labs/ and
// solutions/ folders in both directions.
package catalog

import (
	"fmt"
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
)

// Kinds lists every kind, in the order the checker ranks them when a test
// shows several: a detector's report outranks the assertion it caused.
var Kinds = []Kind{BuildError, VetError, Race, Deadlock, Leak, Overspawn, Serialized, Timeout, Panic, WrongResult}

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
// solutions/.
type Lab struct {
	ID         string // directory and package name under labs/ and solutions/
	Title      string // one line, names the system, not the bug
	Block      Block
	Difficulty int    // 1 (warm-up) to 3 (hard)
	Minutes    int    // estimated time to fix
	Python     string // the idea from the Python seeds the lab maps to
	Summary    string // what the learner's code does, one sentence
	Points     int    // credit when every test passes under grading

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

// validate checks the catalog's own consistency, without looking at disk.
func (c Catalog) validate() error {
	var errs []string
	seen := map[string]bool{}
	lastBlock := -1
	for i, l := range c {
		where := fmt.Sprintf("catalog entry %d (%q)", i+1, l.ID)
		switch {
		case l.ID == "" || strings.ToLower(l.ID) != l.ID || strings.ContainsAny(l.ID, "-_ ./"):
			errs = append(errs, where+": id must be a lowercase word with no separators")
		case seen[l.ID]:
			errs = append(errs, where+": duplicate id")
		}
		seen[l.ID] = true
		b := slices.Index(Blocks, l.Block)
		switch {
		case b < 0:
			errs = append(errs, fmt.Sprintf("%s: unknown block %q", where, l.Block))
		case b < lastBlock:
			errs = append(errs, fmt.Sprintf("%s: block %q comes after %q; keep the curriculum order %v", where, l.Block, Blocks[lastBlock], Blocks))
		default:
			lastBlock = b
		}
		if l.Title == "" || l.Summary == "" || l.Python == "" {
			errs = append(errs, where+": needs a title, a summary and the Python idea it maps to")
		}
		if l.Difficulty < 1 || l.Difficulty > 3 || l.Minutes <= 0 || l.Points <= 0 {
			errs = append(errs, where+": difficulty must be 1 to 3, minutes and points positive")
		}
		if len(l.Hints) < 2 {
			errs = append(errs, where+": needs at least two hints")
		}
		if len(l.Kinds) == 0 {
			errs = append(errs, where+": declares no failure kinds")
		}
		for _, k := range l.Kinds {
			if !slices.Contains(Kinds, k) {
				errs = append(errs, fmt.Sprintf("%s: unknown kind %q", where, k))
			}
		}
		if len(l.Files) == 0 || len(l.Tests) == 0 {
			errs = append(errs, where+": needs editable files and tests")
		}
		for _, f := range l.Files {
			if strings.Contains(f, "/") || !strings.HasSuffix(f, ".go") || strings.HasSuffix(f, "_test.go") {
				errs = append(errs, fmt.Sprintf("%s: editable file %q must be a non-test .go file in the lab directory", where, f))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("the catalog is inconsistent:\n  %s", strings.Join(errs, "\n  "))
	}
	return nil
}
