package diagnose

import (
	"strings"
	"testing"

	"github.com/racelab/racelab/checker/internal/catalog"
)

// The doctor's reports as its runtime prints them (checker/internal/doctor/rt),
// for branches the corpus cannot force on every run. The corpus test
// (checker/internal/doctor) covers the rest with real runs.

var doctorLab = Lab{ID: "example.com/m/cfg", RelDir: "cfg", Dir: "/m/cfg", Files: []string{"cfg.go"}, Module: "/m",
	Exclude: []string{"/m/racelabdoctor_rt", "/m/cfg/zz_racelabdoctor_test.go"}}

func runDoctorReport(t *testing.T, test, report string) Result {
	t.Helper()
	var events []Event
	events = append(events, Event{Action: "run", Test: test})
	for _, l := range strings.Split(strings.Trim(report, "\n"), "\n") {
		events = append(events, Event{Action: "output", Test: test, Output: l + "\n"})
	}
	return Diagnose(Run{Lab: doctorLab, Events: events, Exit: 2})
}

func only(t *testing.T, r Result) Finding {
	t.Helper()
	if len(r.Findings) != 1 {
		t.Fatalf("%d findings, want 1: %+v", len(r.Findings), r.Findings)
	}
	return r.Findings[0]
}

func TestReadWriteReadCycle(t *testing.T) {
	f := only(t, runDoctorReport(t, "TestRWR", `
racelab-doctor: deadline TestRWR: did not finish within 2s (test goroutine 7)
racelab-doctor: goroutine 7 holds lock 1 (sync.RWMutex read lock) since 1.9s, taken at:
example.com/m/cfg.(*Store).GetOr(...)
	/m/cfg/cfg.go:20
example.com/m/cfg.TestRWR(...)
	/m/cfg/cfg_test.go:8
racelab-doctor: goroutine 7 waits for lock 1 (sync.RWMutex read lock) since 1.8s, at:
example.com/m/cfg.(*Store).Get(...)
	/m/cfg/cfg.go:12
example.com/m/cfg.(*Store).GetOr(...)
	/m/cfg/cfg.go:24
example.com/m/cfg.TestRWR(...)
	/m/cfg/cfg_test.go:8
racelab-doctor: goroutine 9 waits for lock 1 (sync.RWMutex) since 1.85s, at:
example.com/m/cfg.(*Store).Set(...)
	/m/cfg/cfg.go:30
racelab-doctor: goroutine dump:
goroutine 7 [sync.RWMutex.RLock]:
sync.runtime_SemacquireRWMutexR(0x0?, 0x0?, 0x0?)
	/GOROOT/src/runtime/sema.go:100 +0x25
sync.(*RWMutex).RLock(...)
	/GOROOT/src/sync/rwmutex.go:74
example.com/m/cfg.(*Store).Get(0xc000010000)
	/m/cfg/cfg.go:12 +0x3d
example.com/m/cfg.(*Store).GetOr(0xc000010000)
	/m/cfg/cfg.go:24 +0x3d
example.com/m/cfg.TestRWR(0xc000104000)
	/m/cfg/cfg_test.go:8 +0x3d

goroutine 9 [sync.RWMutex.Lock]:
sync.runtime_SemacquireRWMutex(0x0?, 0x0?, 0x0?)
	/GOROOT/src/runtime/sema.go:100 +0x25
sync.(*RWMutex).Lock(0xc000010000)
	/GOROOT/src/sync/rwmutex.go:150 +0x3d
example.com/m/cfg.(*Store).Set(0xc000010000)
	/m/cfg/cfg.go:30 +0x3d
created by example.com/m/cfg.TestRWR in goroutine 7
	/m/cfg/cfg_test.go:7 +0x3d

racelab-doctor: end
`))
	if f.Kind != catalog.Deadlock || f.Title != TitleReadWrite || f.Location() != "cfg/cfg.go:12" {
		t.Errorf("got %s %q at %s, want deadlock %q at cfg/cfg.go:12", f.Kind, f.Title, f.Location(), TitleReadWrite)
	}
	if !strings.Contains(f.Summary, "writer waits between two read locks") {
		t.Errorf("summary %q does not explain the cycle", f.Summary)
	}
}

func TestLockOfAGoroutineThatEnded(t *testing.T) {
	f := only(t, runDoctorReport(t, "TestGone", `
racelab-doctor: deadline TestGone: did not finish within 2s (test goroutine 7)
racelab-doctor: goroutine 9 holds lock 1 (sync.Mutex) since 1.9s, taken at:
example.com/m/cfg.(*Store).Reload(...)
	/m/cfg/cfg.go:40
racelab-doctor: goroutine 7 waits for lock 1 (sync.Mutex) since 1.8s, at:
example.com/m/cfg.(*Store).Get(...)
	/m/cfg/cfg.go:12
racelab-doctor: goroutine dump:
goroutine 7 [sync.Mutex.Lock]:
sync.(*Mutex).Lock(0xc000010000)
	/GOROOT/src/sync/mutex.go:46 +0x3d
example.com/m/cfg.(*Store).Get(0xc000010000)
	/m/cfg/cfg.go:12 +0x3d
example.com/m/cfg.TestGone(0xc000104000)
	/m/cfg/cfg_test.go:8 +0x3d

racelab-doctor: end
`))
	if f.Title != TitleNeverUnlock || f.Location() != "cfg/cfg.go:40" {
		t.Errorf("got %q at %s, want %q at the Lock that was never undone, cfg/cfg.go:40", f.Title, f.Location(), TitleNeverUnlock)
	}
}

func TestChildBlockedSendIsTheCause(t *testing.T) {
	f := only(t, runDoctorReport(t, "TestSum", `
racelab-doctor: deadline TestSum: did not finish within 2s (test goroutine 7)
racelab-doctor: goroutine 9 unchanged for 1.5s
racelab-doctor: goroutine dump:
goroutine 7 [sync.WaitGroup.Wait]:
sync.runtime_SemacquireWaitGroup(0x0?, 0x0?)
	/GOROOT/src/runtime/sema.go:114 +0x2e
sync.(*WaitGroup).Wait(0xc0000120f0)
	/GOROOT/src/sync/waitgroup.go:206 +0x85
example.com/m/cfg.Sum({0xc000014090, 0x3, 0x3})
	/m/cfg/cfg.go:21 +0x1c6
example.com/m/cfg.TestSum(0xc000104000)
	/m/cfg/cfg_test.go:8 +0x3d

goroutine 9 [chan send]:
example.com/m/cfg.Sum.func1()
	/m/cfg/cfg.go:17 +0x6e
created by example.com/m/cfg.Sum in goroutine 7
	/m/cfg/cfg.go:15 +0x85

racelab-doctor: end
`))
	if f.Title != TitleSend || f.Location() != "cfg/cfg.go:17" {
		t.Errorf("got %q at %s, want %q at the child's send, cfg/cfg.go:17", f.Title, f.Location(), TitleSend)
	}
	if !strings.Contains(f.Summary, "for at least 1.5s") {
		t.Errorf("summary %q does not say how long", f.Summary)
	}
	if strings.Contains(f.Evidence, "runtime_Semacquire") {
		t.Errorf("the evidence shows the raw dump:\n%s", f.Evidence)
	}
}

func TestLeakedGoroutinesMerge(t *testing.T) {
	r := runDoctorReport(t, "TestFirst", `
racelab-doctor: leak TestFirst: 2 goroutines still running 500ms after the test returned
racelab-doctor: goroutine dump:
goroutine 11 [chan send]:
example.com/m/cfg.First.func1()
	/m/cfg/cfg.go:10 +0x6e
created by example.com/m/cfg.First in goroutine 7
	/m/cfg/cfg.go:8 +0x85

goroutine 12 [chan send]:
example.com/m/cfg.First.func1()
	/m/cfg/cfg.go:10 +0x6e
created by example.com/m/cfg.First in goroutine 7
	/m/cfg/cfg.go:8 +0x85

racelab-doctor: end
`)
	f := only(t, r)
	if f.Kind != catalog.Leak || f.Location() != "cfg/cfg.go:10" || f.Count != 2 {
		t.Errorf("got %s at %s (count %d), want one leak at cfg/cfg.go:10 counted twice", f.Kind, f.Location(), f.Count)
	}
}

func TestDoctorFramesAreNotTheUsers(t *testing.T) {
	d := &diagnosis{lab: doctorLab}
	for file, want := range map[string]bool{
		"/m/cfg/cfg.go":                   true,
		"/m/store/store.go":               true, // another package of the module
		"/m/racelabdoctor_rt/rt.go":       false,
		"/m/cfg/zz_racelabdoctor_test.go": false,
		"/GOROOT/src/sync/mutex.go":       false,
		"_testmain.go":                    false,
		"cfg.go":                          true, // a base name, as t.Errorf prints it
		"store/store.go":                  true, // relative to the module, as the compiler prints it
		"/mother/x.go":                    false,
	} {
		if _, got := d.inLab(file); got != want {
			t.Errorf("inLab(%q) = %v, want %v", file, got, want)
		}
	}
	if name, _ := d.inLab("/m/store/store.go"); name != "../store/store.go" {
		t.Errorf("a file of another package is %q, want ../store/store.go", name)
	}
	if s := d.relSite("", Frame{File: "/m/store/store.go", Line: 3}); s.File != "store/store.go" {
		t.Errorf("its site is %q, want store/store.go (relative to the module root)", s.File)
	}
}
