package diagnose

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/racelab/racelab/checker/internal/catalog"
)

// Titles name what a detector reported; they are stable and greppable.
const (
	titleRace        = "data race"
	titleMapRace     = "concurrent map access"
	titleLockOrder   = "inconsistent lock order"
	titleRecursive   = "recursive locking"
	titleLockWait    = "lock held too long"
	titleAsleep      = "all goroutines are asleep"
	titleBubbleStuck = "all goroutines in the bubble are blocked"
	titleBubbleLeak  = "blocked goroutines remain after the test"
	titleGoleak      = "leaked goroutine"
	titleTimeout     = "test timed out"
	titlePanic       = "panic"
	titleTagged      = "failed check"
	titleBuild       = "does not compile"
	titleVet         = "rejected by go vet"
	titleKilled      = "stopped by the checker"
	titleExited      = "test binary exited early"
	titleWatchdog    = "stopped by the test's watchdog"
)

// --- the race detector ---------------------------------------------------
//
// Upstream text, the race runtime (compiler-rt tsan, Go flavour) as printed
// by `go test -race`:
//
//	==================
//	WARNING: DATA RACE
//	Read at 0x00c000082018 by goroutine 10:
//	  probe/rc.Count.func1()
//	      /tmp/probe/rc/rc.go:12 +0x7b
//
//	Previous write at 0x00c000082018 by goroutine 11:
//	  ...
//	Goroutine 10 (running) created at:
//	  ...
//	==================
//	    testing.go:1712: race detected during execution of test
const (
	raceHeader = "WARNING: DATA RACE"
	raceFooter = "=================="
)

var (
	raceAccess  = regexp.MustCompile(`^((?:Previous )?(?:[Aa]tomic )?(?:[Rr]ead|[Ww]rite)) at 0x[0-9a-f]+ by (goroutine \d+|main goroutine):$`)
	raceCreated = regexp.MustCompile(`^Goroutine (\d+) \((running|finished)\) created at:$`)
)

func (d *diagnosis) race(test string, lines []string, i int) int {
	end := i + 1
	for end < len(lines) && strings.TrimSpace(lines[end]) != raceFooter {
		end++
	}
	body := lines[i:min(end+1, len(lines))]
	type section struct {
		role  string
		lines []string
	}
	var sections []section
	for _, l := range body[1:] {
		t := strings.TrimSpace(l)
		switch m1, m2 := raceAccess.FindStringSubmatch(t), raceCreated.FindStringSubmatch(t); {
		case m1 != nil:
			sections = append(sections, section{role: strings.ToLower(m1[1]) + " by " + m1[2]})
		case m2 != nil:
			sections = append(sections, section{role: "goroutine " + m2[1] + " started"})
		case len(sections) > 0:
			sections[len(sections)-1].lines = append(sections[len(sections)-1].lines, l)
		}
	}
	f := Finding{Kind: catalog.Race, Test: test, Title: titleRace, Evidence: excerpt(body, 40)}
	// Each goroutine's entry function is the bottom frame of its accesses:
	// where it was started is found from that when its creation stack
	// lost the learner's frame to inlining.
	entry := map[string]string{}
	for _, s := range sections {
		if g, ok := strings.CutPrefix(s.role[strings.LastIndex(s.role, " by ")+1:], "by "); ok {
			if frames := parseFrames(s.lines); len(frames) > 0 {
				entry[g] = frames[len(frames)-1].Func
			}
		}
	}
	var accesses []Site
	for _, s := range sections {
		frames := parseFrames(s.lines)
		var site Site
		for _, fr := range frames {
			if cand := d.relSite(s.role, fr); cand.InLab {
				site = cand
				break
			}
		}
		if site.File == "" && len(frames) > 0 {
			site = d.relSite(s.role, frames[0])
		}
		if g, ok := strings.CutSuffix(s.role, " started"); ok && !d.editable(site) {
			if start, ok := d.closureStart(entry[g]); ok {
				site = start
			}
		}
		if site.File != "" {
			f.Sites = append(f.Sites, site)
			if !strings.Contains(s.role, "started") {
				accesses = append(accesses, site)
			}
		}
	}
	f.Sites = uniqSites(f.Sites)
	d.place(&f)
	switch {
	case len(accesses) >= 2 && accesses[0].File == accesses[1].File && accesses[0].Line == accesses[1].Line:
		f.Summary = fmt.Sprintf("data race at %s: goroutines run it at the same time with nothing ordering them", quoted(accesses[0]))
	case len(accesses) >= 2:
		f.Summary = fmt.Sprintf("data race: %s at %s while %s at %s, with nothing ordering them",
			strings.TrimPrefix(accesses[0].Role, "previous "), quoted(accesses[0]), strings.TrimPrefix(accesses[1].Role, "previous "), quoted(accesses[1]))
	case len(accesses) == 1:
		f.Summary = fmt.Sprintf("data race at %s", quoted(accesses[0]))
	default:
		f.Summary = "data race"
	}
	f.Explanation = "Two goroutines used the same memory at the same time and at least one of them wrote it. " +
		"Nothing orders the two accesses (no mutex held by both, no channel operation or WaitGroup between them), " +
		"so updates can be lost or half-seen, on any run, whatever the timing. Go has no GIL: even `n++` is a read and a write.\n" +
		"Where:\n" + describeSites(f.Sites) +
		"Fix: guard the shared data with a mutex held around every access, or give each goroutine its own data and combine the results after they finish."
	d.add(f)
	return end
}

// --- go-deadlock -----------------------------------------------------------
//
// Upstream text, github.com/sasha-s/go-deadlock v0.3 (deadlock.go):
//
//	POTENTIAL DEADLOCK: Inconsistent locking. saw this ordering in one goroutine:
//	happened before
//	bank.go:33 bank.(*Bank).Transfer { src.mu.Lock() } <<<<<
//	...
//	happened after
//	...
//	in another goroutine: happened before
//	...
//	happened after
//	...
//
//	POTENTIAL DEADLOCK: Recursive locking:
//	current goroutine 6 lock 0xc00001e240
//	...
//	Previous place where the lock was grabbed (same goroutine)
//
//	POTENTIAL DEADLOCK:
//	Previous place where the lock was grabbed
//	...
//	Have been trying to lock it again for more than 30s
const deadlockHeader = "POTENTIAL DEADLOCK:"

func (d *diagnosis) lockReport(test string, lines []string, i int) int {
	end := i + 1
	for end < len(lines) {
		t := strings.TrimSpace(lines[end])
		if strings.HasPrefix(t, deadlockHeader) || strings.HasPrefix(lines[end], "--- ") ||
			strings.HasPrefix(lines[end], "=== ") || isLogEntry(lines[end]) || t == "FAIL" || t == "PASS" {
			break
		}
		end++
	}
	body := trimBlank(lines[i:end])
	head := strings.TrimSpace(body[0])
	f := Finding{Kind: catalog.Deadlock, Test: test, Evidence: excerpt(dedent(body), 40)}
	// sections splits the report at its sub-headings and reads the lock
	// sites under each; the first site of a section is where it locked.
	sections := map[string][]Frame{}
	var order []string
	cur := "head"
	for _, l := range body[1:] {
		t := strings.TrimSpace(l)
		switch {
		case t == "happened before", t == "happened after", t == "in another goroutine: happened before",
			strings.HasPrefix(t, "Previous place where the lock was grabbed"),
			strings.HasPrefix(t, "Have been trying to lock it again"),
			strings.HasPrefix(t, "current goroutine"):
			cur = t
			if strings.HasPrefix(t, "current goroutine") {
				cur = "current goroutine" // "current goroutine 20 lock 0xc000..."
			}
			if strings.HasPrefix(t, "happened after") && slices.Contains(order, "happened after") {
				cur = "in another goroutine: happened after"
			}
			order = append(order, cur)
		case strings.HasPrefix(t, "Here is what goroutine"), strings.HasPrefix(t, "Other goroutines holding locks"):
			cur = "ignore"
		default:
			if cur != "ignore" {
				sections[cur] = append(sections[cur], parseLockSites([]string{l})...)
			}
		}
	}
	first := func(key, role string) {
		for _, fr := range sections[key] {
			if s := d.relSite(role, fr); s.InLab || len(sections[key]) == 1 {
				f.Sites = append(f.Sites, s)
				return
			}
		}
		if len(sections[key]) > 0 {
			f.Sites = append(f.Sites, d.relSite(role, sections[key][0]))
		}
	}
	switch {
	case strings.Contains(head, "Inconsistent locking"):
		f.Title = titleLockOrder
		first("happened before", "one call locked A here")
		first("happened after", "then locked B here")
		first("in another goroutine: happened before", "another call locked B here")
		first("in another goroutine: happened after", "then locked A here")
		// The learner fixes the second lock of the pair: point there.
		if len(f.Sites) >= 2 {
			f.File, f.Line = f.Sites[1].File, f.Sites[1].Line
		}
		f.Summary = lockOrderSummary(f.Sites)
		f.Explanation = "Two calls take the same two locks in opposite orders. Run at the same time, each can hold its first lock " +
			"and wait forever for the other's: an AB-BA deadlock. go-deadlock saw both orders, so this can happen on any run, " +
			"even if this run got lucky.\nWhere:\n" + describeSites(f.Sites) +
			"Fix: make every code path take the locks in one global order (for example by account number), or hold only one lock at a time."
	case strings.Contains(head, "Recursive locking"):
		f.Title = titleRecursive
		first("current goroutine", "locks again here")
		for _, k := range order {
			if strings.HasPrefix(k, "Previous place") {
				first(k, "already held since here")
			}
		}
		f.Summary = "a goroutine locks a lock it already holds: " + pairs(f.Sites)
		f.Explanation = "The same goroutine took a lock it already holds. Go's sync.Mutex and RWMutex are not reentrant " +
			"(unlike Python's RLock): the second Lock waits for the first Unlock, which never comes. A recursive RLock also " +
			"deadlocks as soon as a writer is waiting between the two.\nWhere:\n" + describeSites(f.Sites) +
			"Fix: take the lock once, at the outermost call, and have inner helpers assume it is held."
	default:
		f.Title = titleLockWait
		for _, k := range order {
			if strings.HasPrefix(k, "Have been trying") {
				first(k, "waiting to lock here")
			}
		}
		for _, k := range order {
			if strings.HasPrefix(k, "Previous place") {
				first(k, "held since here")
			}
		}
		wait := ""
		for _, k := range order {
			if strings.HasPrefix(k, "Have been trying to lock it again for more than ") {
				wait = strings.TrimPrefix(k, "Have been trying to lock it again for more than ")
			}
		}
		f.Summary = fmt.Sprintf("a goroutine waited more than %s for a lock: %s", cmpOr(wait, "too long"), pairs(f.Sites))
		f.Explanation = "A goroutine waited for a lock far longer than any critical section should take: the holder is " +
			"stuck, most likely waiting for something the waiter holds.\nWhere:\n" + describeSites(f.Sites) +
			"Fix: never block (channel send, Wait, another lock in the wrong order) while holding a lock."
	}
	if f.File == "" {
		d.place(&f)
	}
	d.add(f)
	return end - 1
}

// --- the runtime's global deadlock detector ---------------------------------
//
// Upstream text, runtime/proc.go (checkdead):
//
//	fatal error: all goroutines are asleep - deadlock!
//
//	goroutine 1 [chan receive]:
//
// It never fires under -race with a test timeout set (LAB-AUTHORING.md); it
// can still fire in a program the learner runs by hand.
const asleepHeader = "fatal error: all goroutines are asleep - deadlock!"

func (d *diagnosis) asleep(b block, lines []string, i int) int {
	gs := parseGoroutines(lines[i:])
	f := Finding{Kind: catalog.Deadlock, Test: d.attribute(b, gs), Title: titleAsleep, Evidence: excerpt(lines[i:], 40)}
	f.Sites = d.blockedSites(gs, false)
	d.place(&f)
	f.Summary = "every goroutine is blocked: " + stuckList(f.Sites)
	f.Explanation = "Every goroutine of the program is waiting for another one, so none can ever continue.\nWhere they wait:\n" +
		describeSites(f.Sites) + "Fix: find the cycle: who holds what, and who waits for it."
	d.add(f)
	return len(lines) - 1
}

// --- testing/synctest ---------------------------------------------------------
//
// Upstream text, runtime/synctest.go (Go 1.25+), repanicked by testing:
//
//	panic: deadlock: all goroutines in bubble are blocked [recovered, repanicked]
//	panic: deadlock: main bubble goroutine has exited but blocked goroutines remain [recovered, repanicked]
//
// followed by a dump in which bubble goroutines read
// "goroutine 23 [chan send (durable), synctest bubble 1]:".
const (
	bubbleBlocked = "panic: deadlock: all goroutines in bubble are blocked"
	bubbleExited  = "panic: deadlock: main bubble goroutine has exited but blocked goroutines remain"
)

func (d *diagnosis) bubble(b block, lines []string, i int) int {
	gs := parseGoroutines(lines[i:])
	f := Finding{Test: d.attribute(b, gs), Evidence: excerpt(lines[i:], 40)}
	if strings.HasPrefix(lines[i], bubbleExited) {
		f.Kind, f.Title = catalog.Leak, titleBubbleLeak
		f.Sites = d.blockedSites(gs, true)
		d.place(&f)
		f.Summary = "goroutines are still blocked after the test returned: " + stuckList(f.Sites)
		f.Explanation = "The test's function returned, but goroutines it started are blocked and nothing can ever wake them: " +
			"they leak (Python would call them orphaned). Every such goroutine holds its stack and everything it " +
			"references for the life of the process.\nWhere they are stuck, and where they were started:\n" + describeSites(f.Sites) +
			"Fix: make sure every goroutine can finish: a send needs a receiver or a buffer, a receive needs a sender or a close, and a caller that stops waiting must tell its workers (cancel a context, close a channel)."
	} else {
		f.Kind, f.Title = catalog.Deadlock, titleBubbleStuck
		f.Sites = d.blockedSites(gs, true)
		d.place(&f)
		f.Summary = "every goroutine is blocked, nothing can continue: " + stuckList(f.Sites)
		f.Explanation = "Inside the test's synctest bubble every goroutine was durably blocked (channel, WaitGroup, Cond) " +
			"with no timer left to fire, so none of them can ever continue: a deadlock, found deterministically.\nWhere they wait:\n" +
			describeSites(f.Sites) + "Fix: find who should have sent, closed, unlocked or called Done, and why it did not."
	}
	d.add(f)
	return len(lines) - 1
}

// --- goleak --------------------------------------------------------------------
//
// Upstream text, go.uber.org/goleak v1.3 (options.go, internal/stack):
//
//	found unexpected goroutines:
//	[Goroutine 11 in state chan send, with probe/dl.TestGoleak.func1 on top of the stack:
//	probe/dl.TestGoleak.func1()
//		/tmp/probe/dl/dl_test.go:78 +0x3d
//	created by probe/dl.TestGoleak in goroutine 10
//		/tmp/probe/dl/dl_test.go:78 +0xfa
//	]
const goleakHeader = "found unexpected goroutines:"

var goleakGoroutine = regexp.MustCompile(`^\[?Goroutine (\d+) in state ([^,]+), with (\S+) on top of the stack:$`)

func (d *diagnosis) goleak(test string, lines []string, i int) int {
	end := i + 1
	type leaked struct {
		state, top string
		lines      []string
	}
	var gs []leaked
	for ; end < len(lines); end++ {
		t := strings.TrimSpace(lines[end])
		if m := goleakGoroutine.FindStringSubmatch(t); m != nil {
			gs = append(gs, leaked{state: m[2], top: m[3]})
			continue
		}
		if len(gs) == 0 || strings.HasPrefix(lines[end], "--- ") || isLogEntry(lines[end]) {
			break
		}
		gs[len(gs)-1].lines = append(gs[len(gs)-1].lines, lines[end])
	}
	for _, g := range gs {
		f := Finding{Kind: catalog.Leak, Test: test, Title: titleGoleak,
			Evidence: excerpt(dedent(append([]string{lines[i]}, g.lines...)), 30)}
		frames := parseFrames(g.lines)
		var where, started Site
		for _, fr := range frames {
			s := d.relSite("", fr)
			switch {
			case fr.CreatedBy && started.File == "":
				started = s
				started.Role = "started by the go statement here"
			case !fr.CreatedBy && s.InLab && where.File == "":
				where = s
				where.Role = "still " + g.state + " here"
			}
		}
		for _, s := range []Site{where, started} {
			if s.File != "" {
				f.Sites = append(f.Sites, s)
			}
		}
		if len(f.Sites) == 0 && len(frames) > 0 {
			f.Sites = append(f.Sites, d.relSite("still "+g.state+" here", frames[0]))
		}
		d.place(&f)
		f.Summary = fmt.Sprintf("a goroutine was still %s at %s after the test ended", g.state, short(where))
		if started.InLab {
			f.Summary += fmt.Sprintf(" (started at %s)", short(started))
		}
		f.Explanation = "goleak found a goroutine that the code started and never stopped. Each call leaves one more behind; " +
			"on a server that runs for weeks they pile up until memory runs out.\nWhere:\n" + describeSites(f.Sites) +
			"Fix: give every goroutine a way to finish: a receiver or a buffer for its send, a close or a cancel for its wait."
		d.add(f)
	}
	return end - 1
}

// --- test timeouts -----------------------------------------------------------------
//
// Upstream text, testing/testing.go (startAlarm):
//
//	panic: test timed out after 2s
//		running tests:
//			TestHang (2s)
//
//	goroutine 22 [running]:
const timeoutHeader = "panic: test timed out after "

var runningTest = regexp.MustCompile(`^\t\t(\S+) \(.*\)$`)

func (d *diagnosis) timeout(lines []string, i int) int {
	limit := strings.TrimPrefix(lines[i], timeoutHeader)
	var tests []string
	for j := i + 1; j < len(lines) && j < i+50; j++ {
		if m := runningTest.FindStringSubmatch(lines[j]); m != nil {
			top, _, _ := strings.Cut(m[1], "/")
			if !slices.Contains(tests, top) {
				tests = append(tests, top)
			}
		}
	}
	gs := parseGoroutines(lines[i:])
	f := Finding{Kind: catalog.Timeout, Title: titleTimeout, Evidence: excerpt(lines[i:], 40)}
	if len(tests) > 0 {
		f.Test = tests[0]
	}
	f.Sites = d.blockedSites(gs, false)
	learnerStuck := slices.ContainsFunc(f.Sites, func(s Site) bool {
		state := strings.TrimSuffix(strings.TrimPrefix(s.Role, "blocked in "), " here")
		return s.InLab && !isTestFile(s.File) && strings.HasPrefix(s.Role, "blocked in ") && isBlocked(state)
	})
	if !learnerStuck {
		// Nothing waits: something is busy. Show where the lab's code was.
		f.Sites = append(d.runningSites(gs), f.Sites...)
	}
	d.place(&f)
	if learnerStuck {
		// LAB-AUTHORING.md: under -race the runtime never reports "all
		// goroutines are asleep"; a timeout whose dump shows the lab's
		// goroutines waiting on locks or channels is a deadlock.
		f.Kind = catalog.Deadlock
		f.Summary = fmt.Sprintf("the test hung for %s with goroutines waiting for each other: %s", limit, stuckList(f.Sites))
		f.Explanation = "The test ran out of time while the lab's goroutines were blocked on locks or channels. Nothing " +
			"was going to wake them: a deadlock.\nWhere they wait:\n" + describeSites(f.Sites) +
			"Fix: find the cycle: who holds what, and who waits for it."
	} else {
		f.Summary = fmt.Sprintf("the test did not finish within %s", limit)
		f.Explanation = "The test ran out of time without a deadlock in the lab's code: something is looping or waiting " +
			"far too long.\nWhere goroutines were:\n" + describeSites(f.Sites) +
			"Fix: look for a loop that never ends or a wait with no way out."
	}
	d.add(f)
	return len(lines) - 1
}

// --- panics and fatal errors ---------------------------------------------------------
//
// Upstream text, runtime/panic.go (printpanics) and runtime/error.go:
//
//	panic: runtime error: index out of range [5] with length 3 [recovered]
//	panic: close of closed channel
//	fatal error: concurrent map writes
//
//	goroutine 7 [running]:
func (d *diagnosis) panic(b block, lines []string, i int) int {
	msg := strings.TrimPrefix(strings.TrimPrefix(lines[i], "panic: "), "fatal error: ")
	msg = strings.TrimSuffix(strings.TrimSuffix(msg, " [recovered, repanicked]"), " [recovered]")
	gs := parseGoroutines(lines[i:])
	if m := tagged.FindStringSubmatch(msg); m != nil {
		// A lab test's watchdog: it prints every goroutine, then panics
		// with a kind tag, because a stuck bubble cannot be failed any
		// other way (see the labs' inBubble helpers).
		all := parseGoroutines(lines)
		f := Finding{Kind: catalog.Kind(m[1]), Test: d.attribute(b, all), Title: titleWatchdog,
			Summary: m[2], Evidence: excerpt(lines[i:], 20)}
		f.Sites = mutexFirst(d.blockedSites(all, false))
		d.place(&f)
		f.Explanation = "The test's watchdog found the test still running long after it should have finished, and stopped the test binary. " +
			"Goroutines that wait on a sync.Mutex (or on I/O) are not durably blocked, so inside a synctest bubble fake time cannot move on: " +
			"the usual cause is a lock held while waiting for something else.\nWhere goroutines were stuck:\n" + describeSites(f.Sites)
		d.add(f)
		return len(lines) - 1
	}
	f := Finding{Kind: catalog.Panic, Test: d.attribute(b, gs), Title: titlePanic, Evidence: excerpt(lines[i:], 40)}
	if len(gs) > 0 {
		// The panicking goroutine comes first; skip the testing package's
		// recover-and-repanic frames up to the panic call itself.
		frames := gs[0].Frames
		for j, fr := range frames {
			if fr.Func == "panic" {
				frames = frames[j+1:]
				break
			}
		}
		for _, fr := range frames {
			if s := d.relSite("panicked here", fr); s.InLab {
				f.Sites = append(f.Sites, s)
				break
			}
		}
		for _, fr := range frames {
			if fr.CreatedBy {
				if s := d.relSite("in a goroutine started here", fr); s.InLab {
					f.Sites = append(f.Sites, s)
				}
			}
		}
	}
	d.place(&f)
	f.Summary = fmt.Sprintf("panic: %s", msg)
	if f.File != "" {
		f.Summary += " at " + short(f.Sites[0])
	}
	switch {
	case strings.HasPrefix(msg, "concurrent map"):
		// runtime/map.go fatal("concurrent map writes"): the map's own race
		// check, which -race normally reports first as a data race.
		f.Kind, f.Title = catalog.Race, titleMapRace
		f.Explanation = "The runtime caught two goroutines using a map at the same time and stopped the program. Maps are not safe for concurrent use."
	case strings.Contains(msg, "close of closed channel"):
		f.Explanation = "A channel was closed twice. Unlike Python's Event.set, close is not idempotent: exactly one owner must close a channel, once."
	case strings.Contains(msg, "send on closed channel"):
		f.Explanation = "A goroutine sent on a channel that was already closed. Only the sending side may close a channel, after its last send."
	case strings.Contains(msg, "negative WaitGroup counter"):
		f.Explanation = "Done was called more times than Add. Call Add once per goroutine, before the go statement."
	case strings.Contains(msg, "unlock of unlocked"):
		f.Explanation = "A mutex was unlocked that was not locked: an Unlock without its Lock, or twice."
	default:
		f.Explanation = "The code panicked. A panic in any goroutine ends the whole program, tests included."
	}
	if len(f.Sites) > 0 {
		f.Explanation += "\nWhere:\n" + describeSites(f.Sites)
	}
	d.add(f)
	return len(lines) - 1
}

// --- assertions and the labs' kind tags -------------------------------------------------
//
// Upstream text, testing/testing.go (decorate) and testify's assert.Fail:
//
//	bank_test.go:88: serialized: only 1 of 2 transfers ...
//	bank_test.go:91:
//	    	Error Trace:	/work/main/labs/bank/bank_test.go:91
//	    	Error:      	Not equal: ...
//	    	Test:       	TestTransfer
//	    	Messages:   	serialized: ...
//
// Lab tests start a concurrency verdict with a kind tag (labs/README.md).
var (
	codeRef  = regexp.MustCompile(`\b([A-Za-z0-9_]+\.go):(\d+)\b`)
	logEntry = regexp.MustCompile(`^ {4,}(\S+\.go):(\d+): ?(.*)$`)
	tagged   = regexp.MustCompile(`^(serialized|overspawn|leak|deadlock|race): (.*)$`)
)

func isLogEntry(line string) bool {
	m := logEntry.FindStringSubmatch(line)
	return m != nil && (len(line)-len(strings.TrimLeft(line, " ")))%4 == 0
}

// An entry is one t.Log/t.Error call's output.
type entry struct {
	file  string
	line  int
	lines []string // the message, de-indented
}

func readEntry(lines []string, i int) (entry, int) {
	m := logEntry.FindStringSubmatch(lines[i])
	n, _ := strconv.Atoi(m[2])
	indent := len(lines[i]) - len(strings.TrimLeft(lines[i], " "))
	e := entry{file: m[1], line: n}
	if m[3] != "" {
		e.lines = append(e.lines, m[3])
	}
	j := i + 1
	for ; j < len(lines); j++ {
		l := lines[j]
		if strings.TrimSpace(l) == "" {
			e.lines = append(e.lines, "")
			continue
		}
		if len(l)-len(strings.TrimLeft(l, " \t")) <= indent || isLogEntry(l) && len(l)-len(strings.TrimLeft(l, " ")) == indent {
			break
		}
		e.lines = append(e.lines, strings.TrimPrefix(l, strings.Repeat(" ", indent+4)))
	}
	e.lines = trimBlank(e.lines)
	return e, j
}

// message reads an entry's message, unwrapping testify's fields.
func (e entry) message() string {
	var errText, msgs []string
	field := ""
	for _, l := range e.lines {
		t := strings.TrimSpace(l)
		if k, v, ok := strings.Cut(t, ":"); ok && slices.Contains([]string{"Error Trace", "Error", "Test", "Messages"}, k) {
			field = k
			l = strings.TrimSpace(v)
		} else {
			l = strings.TrimPrefix(strings.TrimPrefix(l, "\t"), "\t")
		}
		switch field {
		case "Error":
			errText = append(errText, l)
		case "Messages":
			msgs = append(msgs, l)
		case "":
			msgs = append(msgs, l)
		}
	}
	if len(msgs) > 0 && field != "" && field != "Messages" && len(errText) == 0 {
		return strings.Join(msgs, "\n")
	}
	if len(msgs) > 0 && len(errText) > 0 {
		return strings.Join(msgs, "\n") + "\n" + strings.Join(errText, "\n")
	}
	if len(errText) > 0 {
		return strings.Join(errText, "\n")
	}
	return strings.Join(msgs, "\n")
}

// entry handles one log entry of a test: detector reports printed through
// t.Error are parsed at once; anything else waits until the test's outcome
// is known.
func (d *diagnosis) entry(test string, e entry) {
	for j, l := range e.lines {
		t := strings.TrimSpace(l)
		if m := tagged.FindStringSubmatch(t); m != nil {
			t = m[2]
		}
		switch {
		case strings.HasPrefix(t, deadlockHeader):
			lines := slices.Clone(e.lines)
			lines[j] = t
			for k := j; k < len(lines); {
				k = d.lockReport(test, lines, k) + 1
				for k < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[k]), deadlockHeader) {
					k++
				}
			}
			return
		case strings.HasPrefix(t, goleakHeader):
			lines := slices.Clone(e.lines)
			lines[j] = t
			d.goleak(test, lines, j)
			return
		}
	}
	d.pending = append(d.pending, pendingEntry{test, e})
}

type pendingEntry struct {
	test string
	e    entry
}

// assertions turns the entries of failed tests into findings: tagged
// entries always, untagged ones when nothing else explains the failure.
func (d *diagnosis) assertions(tests []TestResult) {
	failed := func(name string) bool {
		return slices.ContainsFunc(tests, func(t TestResult) bool { return t.Name == name && t.Status == Fail })
	}
	for _, p := range d.pending {
		if !failed(p.test) {
			continue
		}
		msg := p.e.message()
		if m := tagged.FindStringSubmatch(firstLine(msg)); m != nil {
			d.assertion(p.test, &p.e, catalog.Kind(m[1]))
		}
	}
	for _, t := range tests {
		if t.Status != Fail || d.has(t.Name) {
			continue
		}
		n := 0
		for _, p := range d.pending {
			if p.test == t.Name {
				d.assertion(t.Name, &p.e, "")
				n++
			}
		}
		if n == 0 {
			d.assertion(t.Name, nil, "")
		}
	}
}

func (d *diagnosis) assertion(test string, e *entry, kind catalog.Kind) {
	f := Finding{Kind: catalog.WrongResult, Test: test, Title: titleTagged}
	if e == nil {
		f.Summary = test + " failed without saying why"
		f.Explanation = "The test failed but printed no message."
		d.add(f)
		return
	}
	msg := e.message()
	if kind != "" {
		f.Kind = kind
		msg = strings.TrimPrefix(msg, string(kind)+": ")
	}
	f.Evidence = excerpt(append([]string{fmt.Sprintf("%s:%d:", e.file, e.line)}, e.lines...), 30)
	f.Sites = append(f.Sites, d.relSite("the test's check", Frame{File: e.file, Line: e.line}))
	// A watchdog's message may carry a goroutine dump: point at the lab's
	// goroutines that were stuck.
	if gs := parseGoroutines(e.lines); len(gs) > 0 {
		f.Sites = append(d.blockedSites(gs, false), f.Sites...)
	}
	// A test may name the place in the learner's code it caught
	// ("launched at renderfarm.go:52").
	for _, m := range codeRef.FindAllStringSubmatch(msg, -1) {
		n, _ := strconv.Atoi(m[2])
		if s := d.relSite("named by the test", Frame{File: m[1], Line: n}); s.InLab && !isTestFile(s.File) {
			f.Sites = append([]Site{s}, f.Sites...)
		}
	}
	d.place(&f)
	f.Summary = firstLine(msg)
	switch f.Kind {
	case catalog.Serialized:
		f.Explanation = "The work that must overlap ran one piece at a time: the fix removed the concurrency (a serial loop, one lock held around everything, or waiting inside the loop). The lab is solved only when the work still runs concurrently and is correct."
	case catalog.Overspawn:
		f.Explanation = "More processes (or goroutines) ran at once than the bound allows. Each process costs memory and start-up time; a bounded pool of workers does the same work without drowning the machine."
	case catalog.Leak:
		f.Explanation = "Something the code started outlived the call that started it: a goroutine still running, or a child process never waited for."
	case catalog.Deadlock:
		f.Explanation = "Goroutines ended up waiting for each other."
	case catalog.Race:
		f.Explanation = "Updates were lost or torn: several goroutines (or processes) changed shared state with no ordering between a read and the write that depends on it. " +
			"Atomic loads and stores composed into a read-modify-write, or processes appending to one file, lose updates that the race detector cannot see."
	default:
		f.Explanation = "The test's check failed: the code ran, but its result is not what the lab requires."
	}
	if strings.Contains(strings.TrimSpace(msg), "\n") {
		f.Explanation += "\nThe test said:\n" + indent(msg, "  ")
	}
	if len(f.Sites) > 1 || f.Sites[0].InLab && !strings.HasSuffix(f.Sites[0].File, "_test.go") {
		f.Explanation += "\nWhere:\n" + describeSites(f.Sites)
	}
	d.add(f)
}

// --- build and vet errors ---------------------------------------------------------------
//
// Upstream text, cmd/go (`go test -json` build-output events):
//
//	# probe/bd [probe/bd.test]
//	bd/bd.go:3:23: undefined: undefinedThing
//
//	# probe/vt
//	# [probe/vt]
//	vt/vt.go:5:39: fmt.Sprintf format %d has arg "x" of wrong type string
//
// The "# [pkg]" line marks vet's report.
var compileError = regexp.MustCompile(`^(\S+\.go):(\d+)(?::\d+)?: (.*)$`)

func (d *diagnosis) build(out string) {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	vet := slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "# [") })
	f := Finding{Kind: catalog.BuildError, Title: titleBuild, Evidence: excerpt(lines, 30)}
	if vet {
		f.Kind, f.Title = catalog.VetError, titleVet
	}
	var msgs []string
	for _, l := range lines {
		m := compileError.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[2])
		s := d.relSite("error", Frame{File: d.abs(m[1]), Line: n})
		s.Role = m[3]
		f.Sites = append(f.Sites, s)
		msgs = append(msgs, fmt.Sprintf("%s:%d: %s", path.Base(s.File), n, m[3]))
	}
	d.place(&f)
	if len(msgs) == 0 {
		msgs = []string{firstLine(strings.Join(trimBlank(lines), "\n"))}
	}
	if vet {
		f.Summary = "go vet rejected the code: " + msgs[0]
		f.Explanation = "go test runs part of go vet before the tests, and it found a mistake that is almost always a bug:\n" + indent(strings.Join(msgs, "\n"), "  ")
	} else {
		f.Summary = "does not compile: " + msgs[0]
		f.Explanation = "The lab does not compile, so no test ran:\n" + indent(strings.Join(msgs, "\n"), "  ")
	}
	d.add(f)
}

// abs resolves a compiler path (relative to the module root, or absolute)
// against the lab directory when it names a file there.
func (d *diagnosis) abs(file string) string {
	if strings.HasPrefix(file, "/") {
		return file
	}
	if d.lab.RelDir != "" && strings.HasPrefix(file, d.lab.RelDir+"/") && d.lab.Dir != "" {
		return d.lab.Dir + "/" + strings.TrimPrefix(file, d.lab.RelDir+"/")
	}
	if strings.HasPrefix(file, "./") && d.lab.Dir != "" {
		return d.lab.Dir + "/" + strings.TrimPrefix(file, "./")
	}
	return file
}

// --- the runner's own limits and early exits --------------------------------------------

func (d *diagnosis) killed(run Run, tests []TestResult) {
	f := Finding{Kind: catalog.Timeout, Title: titleKilled, Test: unfinished(tests)}
	if !strings.HasPrefix(run.Killed, "time limit") {
		f.Kind = catalog.Panic
	}
	f.Summary = "the checker stopped the test: it exceeded the " + run.Killed
	f.Explanation = "The test binary went past the checker's " + run.Killed + " and was killed with every process it started. " +
		"Look for a loop that never ends, unbounded allocation or output, or a wait with no way out."
	d.add(f)
}

func (d *diagnosis) exited(run Run, tests []TestResult) {
	f := Finding{Kind: catalog.Panic, Title: titleExited, Test: unfinished(tests)}
	f.Summary = fmt.Sprintf("the test binary exited with status %d before reporting its results", run.Exit)
	f.Explanation = "The tests did not finish: the process ended early (os.Exit, a fatal signal, or a crash that printed nothing recognizable). Look at the raw output with -v."
	d.add(f)
}

func unfinished(tests []TestResult) string {
	for _, t := range tests {
		if t.Status == Unfinished {
			return t.Name
		}
	}
	return ""
}

// --- helpers ----------------------------------------------------------------------------

// blockedSites lists, for each goroutine with frames in the lab, where it
// waits and where it was started: the learner's goroutines first, then the
// tests', each group ordered by file and line so the same dump always reads
// the same way, whatever order the runtime printed it in. bubbleOnly keeps
// synctest bubble members.
func (d *diagnosis) blockedSites(gs []goroutine, bubbleOnly bool) []Site {
	type pair struct{ wait, start Site }
	var pairs []pair
	for _, g := range gs {
		if bubbleOnly && !g.Bubble || !waiting(g.State) {
			continue
		}
		var p pair
		for _, fr := range g.Frames {
			s := d.relSite("", fr)
			if !s.InLab {
				continue
			}
			if fr.CreatedBy {
				if p.start.File == "" {
					p.start = s
					p.start.Role = "started by the go statement here"
				}
			} else if p.wait.File == "" {
				p.wait = s
				p.wait.Role = "blocked in " + strings.TrimSuffix(g.State, " (durable)") + " here"
			}
		}
		if p.wait.File == "" {
			continue
		}
		if isTestFile(p.wait.File) && isTestFile(p.start.File) {
			p.start = Site{} // the test's own goroutines: where they wait is enough
		}
		pairs = append(pairs, p)
	}
	learner := func(p pair) bool { return !isTestFile(p.wait.File) || !isTestFile(p.start.File) }
	slices.SortStableFunc(pairs, func(a, b pair) int {
		if la, lb := learner(a), learner(b); la != lb {
			if la {
				return -1
			}
			return 1
		}
		if c := strings.Compare(a.wait.File, b.wait.File); c != 0 {
			return c
		}
		return a.wait.Line - b.wait.Line
	})
	var sites []Site
	for _, p := range pairs {
		sites = append(sites, p.wait)
		if p.start.File != "" {
			sites = append(sites, p.start)
		}
	}
	return uniqSites(sites)
}

// mutexFirst moves the sites of goroutines waiting on a mutex to the front:
// in a synctest bubble they are what keeps fake time from moving on.
func mutexFirst(sites []Site) []Site {
	isMutex := func(s Site) bool {
		return strings.Contains(s.Role, "Mutex.Lock") || strings.Contains(s.Role, "RWMutex.RLock")
	}
	var first, rest []Site
	for _, s := range sites {
		if isMutex(s) && s.InLab {
			first = append(first, s)
		} else {
			rest = append(rest, s)
		}
	}
	return append(first, rest...)
}

// runningSites lists where the lab's code was executing in goroutines that
// were not blocked (a busy loop, say).
func (d *diagnosis) runningSites(gs []goroutine) []Site {
	var sites []Site
	for _, g := range gs {
		if isBlocked(g.State) {
			continue
		}
		for _, fr := range g.Frames {
			if fr.CreatedBy {
				continue
			}
			if s := d.relSite("was running here ("+g.State+")", fr); s.InLab && !isTestFile(s.File) {
				sites = append(sites, s)
				break
			}
		}
	}
	return sites
}

func uniqSites(sites []Site) []Site {
	var out []Site
	for _, s := range sites {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func isTestFile(f string) bool { return f == "" || strings.HasSuffix(f, "_test.go") }

// editable reports whether s is in one of the files the learner edits.
func (d *diagnosis) editable(s Site) bool {
	return s.InLab && slices.Contains(d.lab.Files, path.Base(s.File))
}

// attribute names the test a crash belongs to: the block's own test, the
// test that was running, or a test function found in the dump.
func (d *diagnosis) attribute(b block, gs []goroutine) string {
	if b.test != "" {
		return b.test
	}
	if len(b.running) == 1 {
		return b.running[0]
	}
	for _, g := range gs {
		for _, fr := range g.Frames {
			name := fr.Func[strings.LastIndex(fr.Func, ".")+1:]
			if strings.HasPrefix(name, "Test") && !fr.CreatedBy && strings.HasPrefix(fr.Func, d.pkgPrefix(fr.Func)) {
				if _, ok := d.inLab(fr.File); ok {
					return name
				}
			}
		}
	}
	if len(b.running) > 0 {
		return b.running[0]
	}
	return ""
}

func (d *diagnosis) pkgPrefix(fn string) string {
	if i := strings.LastIndex(fn, "/"); i >= 0 {
		return fn[:i]
	}
	return ""
}

func describeSites(sites []Site) string {
	if len(sites) == 0 {
		return "  (no location in the lab's code)\n"
	}
	var b strings.Builder
	for _, s := range sites {
		fmt.Fprintf(&b, "  %s: %s\n", at(s), s.Role)
	}
	return b.String()
}

// lockOrderSummary says which two locks are taken in which orders.
func lockOrderSummary(s []Site) string {
	if len(s) < 4 {
		return "two locks are taken in opposite orders: " + pairs(s)
	}
	if short(s[0]) == short(s[2]) && short(s[1]) == short(s[3]) {
		return fmt.Sprintf("%s then %s lock two mutexes in argument order, so swapped calls lock them the other way round",
			short(s[0]), short(s[1]))
	}
	return fmt.Sprintf("one call locks %s then %s; another locks them the other way round (%s then %s)",
		quoted(s[0]), quoted(s[1]), quoted(s[2]), quoted(s[3]))
}

// quoted is "file:line" followed by the code there, when known.
func quoted(s Site) string {
	if s.Code == "" {
		return short(s)
	}
	return fmt.Sprintf("%s `%s`", short(s), s.Code)
}

func pairs(sites []Site) string {
	var parts []string
	for _, s := range sites {
		parts = append(parts, short(s))
	}
	if len(parts) == 0 {
		return "no location in the lab's code"
	}
	return strings.Join(parts, ", ")
}

func stuckList(sites []Site) string {
	var parts []string
	for _, s := range sites {
		if s.InLab && !strings.HasPrefix(s.Role, "started") {
			parts = append(parts, fmt.Sprintf("%s at %s", strings.TrimSuffix(s.Role, " here"), short(s)))
		}
	}
	if len(parts) == 0 {
		return "no goroutine of the lab's code in the dump"
	}
	return strings.Join(parts, "; ")
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

func dedent(lines []string) []string {
	n := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		k := len(l) - len(strings.TrimLeft(l, " "))
		if n < 0 || k < n {
			n = k
		}
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		if len(l) >= n && n > 0 {
			out[i] = l[n:]
		} else {
			out[i] = strings.TrimLeft(l, " ")
		}
	}
	return out
}

func trimBlank(lines []string) []string {
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
