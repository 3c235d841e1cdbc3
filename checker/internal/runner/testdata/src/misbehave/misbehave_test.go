// Package misbehave is a test binary that misbehaves on request, for the
// runner's tests: the environment variable MISBEHAVE picks the misdeed.
package misbehave

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

func init() {
	if os.Getenv("MISBEHAVE") == "hang-before-tests" {
		// Before testing.M.Run, so -test.timeout's alarm is not set yet:
		// only the runner's hard limit can end this.
		time.Sleep(time.Hour)
	}
}

func want(t *testing.T, misdeed string) {
	if os.Getenv("MISBEHAVE") != misdeed {
		t.Skip("not asked for")
	}
}

func TestFlood(t *testing.T) {
	want(t, "flood")
	line := make([]byte, 1<<16)
	for i := range line {
		line[i] = 'x'
	}
	for {
		os.Stdout.Write(line)
	}
}

func TestHog(t *testing.T) {
	want(t, "hog")
	var keep [][]byte
	for {
		b := make([]byte, 32<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		keep = append(keep, b)
		time.Sleep(10 * time.Millisecond)
	}
}

func TestOrphan(t *testing.T) {
	want(t, "orphan")
	cmd := exec.Command("sleep", "300")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(os.Getenv("PIDFILE"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
	// Return without waiting: the child outlives the test binary.
}

func TestExit3(t *testing.T) {
	want(t, "exit3")
	os.Exit(3)
}

func TestSlowFail(t *testing.T) {
	want(t, "slow-fail")
	time.Sleep(300 * time.Millisecond)
	t.Fatal("failed after 0.3s")
}

func TestHangInTest(t *testing.T) {
	want(t, "hang-in-test")
	time.Sleep(time.Hour) // -test.timeout's alarm ends it
}
