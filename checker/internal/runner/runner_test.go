package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const root = "../../.."

var (
	builtOnce sync.Once
	builtBin  string
	builtErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(filepath.Dir(builtBin)))
	}
	os.Exit(code)
}

// built compiles the misbehave fixture once per test binary run.
func built(t *testing.T) string {
	t.Helper()
	builtOnce.Do(func() {
		abs, err := filepath.Abs(root)
		if err != nil {
			builtErr = err
			return
		}
		dir, err := os.MkdirTemp("", "racelab-runner-test-")
		if err != nil {
			builtErr = err
			return
		}
		res, err := Build(context.Background(), BuildConfig{Module: abs, BinDir: dir},
			[]Target{{Name: "misbehave", Dir: "checker/internal/runner/testdata/src/misbehave"}})
		if err != nil {
			builtErr = err
			return
		}
		if b := res["misbehave"]; b.Failed {
			builtErr = fmt.Errorf("build failed:\n%s", b.Output)
		} else {
			builtBin = b.Binary
		}
	})
	if builtErr != nil {
		t.Fatal(builtErr)
	}
	return builtBin
}

func run(t *testing.T, misdeed string, lim Limits, env ...string) Result {
	t.Helper()
	bin := built(t)
	res, err := Run(context.Background(), Exec{
		Binary: bin, Dir: t.TempDir(), Package: "misbehave", Limits: lim,
		Env: append(os.Environ(), append(env, "MISBEHAVE="+misdeed, "GORACE=atexit_sleep_ms=0")...),
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestHardTimeLimit(t *testing.T) {
	built(t) // the build is not what is timed
	start := time.Now()
	res := run(t, "hang-before-tests", Limits{Time: time.Second, Grace: time.Second})
	if !strings.HasPrefix(res.Killed, "time limit") || res.Exit != -1 {
		t.Errorf("Killed = %q, Exit = %d; want a time limit kill", res.Killed, res.Exit)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v; the limit was 2s", d)
	}
}

func TestOutputLimit(t *testing.T) {
	res := run(t, "flood", Limits{Output: 64 << 10})
	if !strings.HasPrefix(res.Killed, "output limit") || !res.Truncated || len(res.Output) > 64<<10 {
		t.Errorf("Killed = %q, Truncated = %v, kept %d bytes; want an output limit kill keeping at most 64 KiB", res.Killed, res.Truncated, len(res.Output))
	}
}

func TestMemoryLimit(t *testing.T) {
	res := run(t, "hog", Limits{Memory: 512 << 20})
	if !strings.HasPrefix(res.Killed, "memory limit") {
		t.Errorf("Killed = %q; want a memory limit kill", res.Killed)
	}
}

func TestNothingOutlivesTheRun(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "pid")
	res := run(t, "orphan", Limits{}, "PIDFILE="+pidfile)
	if res.Exit != 0 {
		t.Fatalf("exit %d, want 0:\n%s", res.Exit, res.Output)
	}
	data, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(string(data))
	deadline := time.Now().Add(5 * time.Second)
	for {
		if syscall.Kill(pid, 0) != nil || isZombie(pid) {
			return
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the child %d the test binary left behind is still running", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func isZombie(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && strings.HasPrefix(s[i+1:], " Z")
}

func TestExitStatus(t *testing.T) {
	res := run(t, "exit3", Limits{})
	if res.Exit != 3 || res.Killed != "" {
		t.Errorf("Exit = %d, Killed = %q; want 3 and no kill", res.Exit, res.Killed)
	}
	if len(res.Events) == 0 {
		t.Error("no test2json events")
	}
}

func TestBuildReportsEachPackage(t *testing.T) {
	abs, _ := filepath.Abs(root)
	res, err := Build(context.Background(), BuildConfig{Module: abs, BinDir: t.TempDir()}, []Target{
		{Name: "a/builderr", Dir: "checker/internal/diagnose/testdata/src/builderr"},
		{Name: "a/veterr", Dir: "checker/internal/diagnose/testdata/src/veterr"},
		{Name: "a/pass", Dir: "checker/internal/diagnose/testdata/src/pass"},
		{Name: "b/pass", Dir: "checker/internal/diagnose/testdata/src/pass"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if b := res["a/builderr"]; !b.Failed || !strings.Contains(b.Output, "undefined: totl") {
		t.Errorf("builderr: %+v", b)
	}
	if b := res["a/veterr"]; !b.Failed || !strings.Contains(b.Output, "# [") {
		t.Errorf("veterr: want vet's report, got %+v", b)
	}
	for _, name := range []string{"a/pass", "b/pass"} {
		if b := res[name]; b.Failed || b.Binary == "" {
			t.Errorf("%s: %+v", name, b)
		}
	}
	if res["a/pass"].Binary == res["b/pass"].Binary {
		t.Error("two targets share one binary path")
	}
}

// TestEventsCarryElapsed: test durations survive the conversion, and
// events carry the time they happened, so a test that a timeout cut short
// can be said to have run for as long as it did.
func TestEventsCarryElapsed(t *testing.T) {
	res := run(t, "slow-fail", Limits{})
	found := false
	for _, e := range res.Events {
		if e.Action == "fail" && e.Test == "TestSlowFail" {
			found = true
			if e.Elapsed < 0.3 {
				t.Errorf("Elapsed = %v, want at least 0.3", e.Elapsed)
			}
		}
	}
	if !found {
		t.Errorf("no fail event for TestSlowFail in %+v", res.Events)
	}

	res = run(t, "hang-in-test", Limits{Time: time.Second})
	var started, last time.Time
	for _, e := range res.Events {
		if e.Action == "run" && e.Test == "TestHangInTest" {
			started = e.Time
		}
		last = e.Time
	}
	if started.IsZero() || last.Sub(started) < 500*time.Millisecond {
		t.Errorf("the hung test started at %v and the last event came at %v: want about 1s apart (the timeout; the binary starts before the test does, so at least 0.5s)", started, last)
	}
}
