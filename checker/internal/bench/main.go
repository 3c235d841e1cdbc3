// Command bench measures the checker against plain go test, on this
// machine, in one run, and prints a table: medians and spread (min–max)
// over several runs.
//
//	go run ./checker/internal/bench [-runs 5] [-cold 1] [-watch 5]
//
// It measures (a) the checker over every lab against
// `go test -race -count=1 ./labs/...`, as a ratio; (b) each lab's time to
// verdict with a warm build cache; (c) edit-to-verdict latency in watch
// mode; (d) a full verify; (e) cold against warm caches. Everything runs
// on a temporary copy of the repository, so the working tree is never
// edited and the caches of the copy start empty. (f) runs `checker
// doctor` and plain `go test -race -timeout 30s` over the doctor's corpus
// (-only-doctor for just that).
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/racelab/racelab/checker/internal/catalog"
	"github.com/racelab/racelab/checker/internal/fsutil"
)

func main() {
	runs := flag.Int("runs", 5, "runs of each warm measurement")
	cold := flag.Int("cold", 1, "runs of each cold measurement (each rebuilds the race runtime: about a minute)")
	watchRuns := flag.Int("watch", 5, "edits timed in watch mode")
	verifyRuns := flag.Int("verify", 3, "full verifies timed")
	flag.IntVar(&doctorRuns, "doctor", 1, "runs of the doctor and of go test over the doctor's corpus (0 skips them)")
	flag.BoolVar(&onlyDoctor, "only-doctor", false, "measure only the doctor against go test over its corpus")
	flag.Parse()
	if err := run(*runs, *cold, *watchRuns, *verifyRuns); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// The doctor's rows (doctor.go).
var (
	doctorRuns int
	onlyDoctor bool
)

type row struct {
	name  string
	times []time.Duration
	note  string
}

func run(runs, coldRuns, watchRuns, verifyRuns int) error {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "racelab-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	copyDir := filepath.Join(tmp, "repo")
	if err := fsutil.CopyPaths(root, copyDir, "go.mod", "go.sum", "labs", "solutions", "checker"); err != nil {
		return err
	}
	labs, err := catalog.Load(copyDir)
	if err != nil {
		return err
	}
	checker := filepath.Join(tmp, "racelab")
	if out, err := exec.Command("go", "build", "-o", checker, "./checker").CombinedOutput(); err != nil {
		return fmt.Errorf("build the checker: %v\n%s", err, out)
	}
	// The checker's own cache (test binaries, state) starts empty, in tmp;
	// the Go build cache is the user's (warm), except for cold runs.
	gocache := strings.TrimSpace(output("go", "env", "GOCACHE"))
	warmEnv := append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(tmp, "cache"), "GOCACHE="+gocache, "NO_COLOR=1")
	progress := func(format string, args ...any) { fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...) }

	var rows []row
	if onlyDoctor {
		if rows, err = doctorRows(checker, copyDir, warmEnv, max(1, doctorRuns)); err != nil {
			return fmt.Errorf("doctor: %w", err)
		}
		printTable(os.Stdout, rows, runs)
		return nil
	}
	// Warm both sides once, untimed.
	progress("warming caches")
	timeCmd(copyDir, warmEnv, checker)
	timeCmd(copyDir, warmEnv, "go", "run", "./checker")
	timeCmd(copyDir, warmEnv, "go", "test", "-race", "-count=1", "./labs/...")

	// (a) all labs, interleaved so drift hits both sides alike.
	progress("(a) all labs, %d runs each", runs)
	var goTest, bin, goRun []time.Duration
	for range runs {
		goTest = append(goTest, timeCmd(copyDir, warmEnv, "go", "test", "-race", "-count=1", "./labs/..."))
		bin = append(bin, timeCmd(copyDir, warmEnv, checker))
		goRun = append(goRun, timeCmd(copyDir, warmEnv, "go", "run", "./checker"))
	}
	base := median(goTest)
	rows = append(rows,
		row{"a. go test -race -count=1 ./labs/... (baseline)", goTest, "ratio 1.00"},
		row{"a. checker, all labs (built binary)", bin, fmt.Sprintf("ratio %.2f", ratio(median(bin), base))},
		row{"a. go run ./checker, all labs", goRun, fmt.Sprintf("ratio %.2f", ratio(median(goRun), base))},
	)

	// (b) each lab alone, as `checker run LAB`.
	progress("(b) each lab's time to verdict, %d runs each", runs)
	slowest, slowestName := time.Duration(0), ""
	for _, l := range labs {
		var ts []time.Duration
		for range runs {
			ts = append(ts, timeCmd(copyDir, warmEnv, checker, "run", l.ID))
		}
		if m := median(ts); m > slowest {
			slowest, slowestName = m, l.ID
		}
		rows = append(rows, row{"b. verdict, warm: " + l.ID, ts, target(median(ts), 3*time.Second)})
	}
	rows = append(rows, row{"b. slowest lab: " + slowestName, []time.Duration{slowest}, target(slowest, 3*time.Second)})

	// (c) watch mode: save an edit, wait for the verdict.
	progress("(c) watch mode, %d edits", watchRuns)
	lat, err := watchLatency(copyDir, warmEnv, checker, labs[0], watchRuns)
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	rows = append(rows, row{"c. watch: save to verdict (" + labs[0].ID + ")", lat, target(median(lat), 2*time.Second)})

	// (d) a full verify.
	progress("(d) verify -runs 1, %d times", verifyRuns)
	var ver []time.Duration
	for range verifyRuns {
		ver = append(ver, timeCmd(copyDir, warmEnv, checker, "verify", "-runs", "1"))
	}
	rows = append(rows, row{"d. verify -runs 1 (labs, solutions, variants x GOMAXPROCS 1,2)", ver, ""})

	// (e) cold caches: an empty Go build cache and checker cache.
	progress("(e) cold caches, %d runs each (slow)", coldRuns)
	var coldGo, coldChecker []time.Duration
	for i := range coldRuns {
		coldEnv := func(name string) []string {
			return append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(tmp, fmt.Sprintf("cold-%s-%d", name, i)),
				"GOCACHE="+filepath.Join(tmp, fmt.Sprintf("cold-%s-%d", name, i), "go-build"), "NO_COLOR=1")
		}
		coldGo = append(coldGo, timeCmd(copyDir, coldEnv("gotest"), "go", "test", "-race", "-count=1", "./labs/..."))
		coldChecker = append(coldChecker, timeCmd(copyDir, coldEnv("checker"), checker))
	}
	rows = append(rows,
		row{"e. cold: go test -race -count=1 ./labs/...", coldGo, "ratio 1.00"},
		row{"e. cold: checker, all labs", coldChecker, fmt.Sprintf("ratio %.2f", ratio(median(coldChecker), median(coldGo)))},
		row{"e. warm: go test -race -count=1 ./labs/...", goTest, fmt.Sprintf("cold/warm %.0fx", ratio(median(coldGo), median(goTest)))},
		row{"e. warm: checker, all labs", bin, fmt.Sprintf("cold/warm %.0fx", ratio(median(coldChecker), median(bin)))},
	)

	if doctorRuns > 0 {
		dr, err := doctorRows(checker, copyDir, warmEnv, doctorRuns)
		if err != nil {
			return fmt.Errorf("doctor: %w", err)
		}
		rows = append(rows, dr...)
	}

	printTable(os.Stdout, rows, runs)
	return nil
}

// timeCmd runs a command to completion and returns its wall time. Exit
// status 1 is expected (the labs are broken); anything worse is reported.
func timeCmd(dir string, env []string, name string, args ...string) time.Duration {
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() > 1) {
		fmt.Fprintf(os.Stderr, "bench: %s %s: %v\n", name, strings.Join(args, " "), err)
	}
	return d
}

// watchLatency starts the checker's watch mode on lab, then saves an edit
// to the lab's file n times, timing each save until the watch prints its
// next verdict.
func watchLatency(dir string, env []string, checker string, lab catalog.Lab, n int) ([]time.Duration, error) {
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, checker, "watch", "-no-color", lab.ID)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, err
	}
	// Stop the watch, then wait for it: in this order, or Wait never ends.
	defer func() {
		cancel()
		cmd.Wait()
	}()
	verdicts := make(chan time.Time)
	go func() { // exits when the watch's stdout closes
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if os.Getenv("BENCH_DEBUG") != "" {
				fmt.Fprintln(os.Stderr, "watch:", sc.Text())
			}
			if strings.HasPrefix(sc.Text(), "verdict ") {
				verdicts <- time.Now()
			}
		}
		close(verdicts)
	}()
	next := func() (time.Time, error) {
		select {
		case t, ok := <-verdicts:
			if !ok {
				return t, fmt.Errorf("the watch exited")
			}
			return t, nil
		case <-time.After(60 * time.Second):
			return time.Time{}, fmt.Errorf("no verdict within 60s")
		}
	}
	if _, err := next(); err != nil { // the first run, on start
		return nil, err
	}
	file := filepath.Join(dir, lab.Dir(), lab.Files[0])
	orig, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	defer os.WriteFile(file, orig, 0o644)
	var lat []time.Duration
	for i := range n {
		edited := append(slices.Clone(orig), fmt.Sprintf("\n// bench edit %d\n", i)...)
		start := time.Now()
		if err := os.WriteFile(file, edited, 0o644); err != nil {
			return nil, err
		}
		t, err := next()
		if err != nil {
			return nil, err
		}
		lat = append(lat, t.Sub(start))
	}
	return lat, nil
}

func printTable(w io.Writer, rows []row, runs int) {
	fmt.Fprintf(w, "Racelab benchmark, %s\n", time.Now().Format("2006-01-02"))
	fmt.Fprintf(w, "machine: %s, %d CPUs, %s, %s, load average at start %s\n\n",
		cpuModel(), runtime.NumCPU(), strings.TrimSpace(output("go", "version")), kernel(), loadavg())
	fmt.Fprintf(w, "%-66s %9s %19s %5s  %s\n", "measure", "median", "spread (min-max)", "runs", "note")
	for _, r := range rows {
		lo, hi := slices.Min(r.times), slices.Max(r.times)
		fmt.Fprintf(w, "%-66s %9s %19s %5d  %s\n", r.name, secs(median(r.times)),
			secs(lo)+"-"+secs(hi), len(r.times), r.note)
	}
	fmt.Fprintf(w, "\nratios compare medians measured in this same run; targets: checker/go test <= 1.00, each lab <= 3s warm, save-to-verdict <= 2s\n")
}

func target(d, limit time.Duration) string {
	if d <= limit {
		return fmt.Sprintf("target <= %s: met", secs(limit))
	}
	return fmt.Sprintf("target <= %s: MISSED by %s", secs(limit), secs(d-limit))
}

func median(ts []time.Duration) time.Duration {
	s := slices.Clone(ts)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

func secs(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

func output(name string, args ...string) string {
	out, _ := exec.Command(name, args...).Output()
	return string(out)
}

func cpuModel() string {
	data, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func kernel() string {
	data, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return "linux " + strings.TrimSpace(string(data))
}

func loadavg() string {
	data, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
