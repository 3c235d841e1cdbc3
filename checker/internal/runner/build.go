// Package runner builds and runs test binaries, one process group per run,
// with hard limits on time, memory and output. It knows nothing about labs
// or verdicts: it reports what happened, and package diagnose says what it
// means.
package runner

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// A Target is one package whose tests are built into a binary.
type Target struct {
	// Name is unique among the targets of one Build and names the binary.
	Name string
	// Dir is the package directory relative to the module root.
	Dir string
}

// BuildConfig says how to build.
type BuildConfig struct {
	Go      string   // the go command; "go" when empty
	Module  string   // the module root, absolute
	BinDir  string   // where binaries are written; reused across builds so unchanged binaries are not relinked
	Overlay string   // an overlay file (go help build), optional
	Env     []string // the environment of the go command; os.Environ when nil
	// Limits bound each go command the build runs, with everything it
	// starts; the zero value sets none.
	Limits GoLimits
}

// A Built is the outcome of building one target.
type Built struct {
	Binary string // the test binary, when the build succeeded
	Failed bool
	Output string // the compiler's or vet's messages for the package
	// Killed says which limit stopped the build, when one did (see
	// GoResult.Killed); the build then Failed.
	Killed  string
	PeakRSS int64 // the most resident memory the build was seen using
}

// Build compiles the test binaries of targets with -race, running go test's
// vet checks as go test would. Packages are built by one go command per
// output directory, so the go command builds them in parallel and reuses
// every cached step. A failing package does not stop the others.
//
// The error is non-nil only when the go command itself could not run.
func Build(ctx context.Context, cfg BuildConfig, targets []Target) (map[string]Built, error) {
	modPath, err := ModulePath(cfg.Module)
	if err != nil {
		return nil, err
	}
	// go test -c -o DIR/ names binaries after the package's last path
	// element: targets sharing one must go to different directories.
	groups := map[string][]Target{}
	for _, t := range targets {
		base := filepath.Base(t.Dir)
		g := 0
		for slicesContainsBase(groups[groupDir(cfg.BinDir, t.Name, g)], base) {
			g++
		}
		dir := groupDir(cfg.BinDir, t.Name, g)
		groups[dir] = append(groups[dir], t)
	}
	out := make(map[string]Built, len(targets))
	var mu sync.Mutex // protects out and firstErr
	var firstErr error
	var wg sync.WaitGroup
	for dir, ts := range groups {
		wg.Go(func() {
			res, err := buildGroup(ctx, cfg, modPath, dir, ts)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			for k, v := range res {
				out[k] = v
			}
		})
	}
	wg.Wait()
	return out, firstErr
}

// groupDir keeps each target's binary in a directory named after the
// target's prefix ("labs", "solutions", ...), so repeated builds land on
// the same file and go can skip relinking it.
func groupDir(binDir, name string, g int) string {
	prefix, _, ok := strings.Cut(name, "/")
	if !ok {
		prefix = "default"
	}
	if g > 0 {
		prefix = fmt.Sprintf("%s.%d", prefix, g)
	}
	return filepath.Join(binDir, prefix)
}

func slicesContainsBase(ts []Target, base string) bool {
	for _, t := range ts {
		if filepath.Base(t.Dir) == base {
			return true
		}
	}
	return false
}

// buildEvent is one line of `go test -json` build output (cmd/go, Go 1.24+).
type buildEvent struct {
	ImportPath string
	Action     string
	Output     string
}

func buildGroup(ctx context.Context, cfg BuildConfig, modPath, dir string, ts []Target) (map[string]Built, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create the build directory: %w", err)
	}
	args := []string{"test", "-race", "-c", "-json", "-o", dir + string(filepath.Separator)}
	if cfg.Overlay != "" {
		args = append(args, "-overlay", cfg.Overlay)
	}
	byImport := map[string]Target{}
	for _, t := range ts {
		imp := modPath + "/" + filepath.ToSlash(t.Dir)
		byImport[imp] = t
		args = append(args, "./"+filepath.ToSlash(t.Dir))
	}
	// The go command's own work directory lives beside the binaries: it is
	// removed even if the go command is killed, and on the same file
	// system, so each binary lands in place with one rename.
	tmp, err := os.MkdirTemp(cfg.BinDir, ".gotmp-")
	if err != nil {
		return nil, fmt.Errorf("create the build's temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command(goCmd(cfg.Go), args...)
	cmd.Dir = cfg.Module
	cmd.Env = withEnv(cfg.Env, "GOTMPDIR="+tmp)
	lim := cfg.Limits
	if lim.Output <= 0 {
		lim.Output = 16 << 20
	}
	stdout, stderr := &cappedBuffer{max: lim.Output}, &cappedBuffer{max: lim.Output}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	st, runErr := runGroup(ctx, cmd, lim)
	var exitErr *exec.ExitError
	if st.killed != "" {
		// Which package was being built is not known: every target of
		// the command failed for the same reason.
		res := map[string]Built{}
		for _, t := range ts {
			os.Remove(filepath.Join(dir, filepath.Base(t.Dir)+".test"))
			res[t.Name] = Built{Failed: true, Killed: st.killed, PeakRSS: st.peakRSS,
				Output: fmt.Sprintf("the build was stopped: %s", st.killed)}
		}
		return res, nil
	}
	if runErr != nil && !errors.As(runErr, &exitErr) {
		return nil, fmt.Errorf("run %s: %w", cmd, runErr)
	}

	outputs := map[string]*strings.Builder{}
	failed := map[string]bool{}
	var orphans []buildEvent // output of packages that are not targets
	sc := bufio.NewScanner(bytes.NewReader(stdout.Bytes()))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		var ev buildEvent
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		imp := importPath(modPath, ev.ImportPath)
		if _, ok := byImport[imp]; !ok {
			orphans = append(orphans, ev)
			continue
		}
		record(outputs, failed, imp, ev)
	}
	res := map[string]Built{}
	for imp, t := range byImport {
		bin := filepath.Join(dir, filepath.Base(t.Dir)+".test")
		b := Built{PeakRSS: st.peakRSS}
		_, statErr := os.Stat(bin)
		if statErr != nil && outputs[imp] == nil && !failed[imp] {
			// No binary and nothing said about this package: a package it
			// depends on failed (one that is not a target), and the
			// message names it.
			for _, ev := range orphans {
				record(outputs, failed, imp, ev)
			}
		}
		if o := outputs[imp]; o != nil {
			b.Output = o.String()
		}
		if failed[imp] || statErr != nil || runErr != nil && b.Output == "" && len(stderr.Bytes()) > 0 {
			b.Failed = true
			if b.Output == "" {
				b.Output = string(stderr.Bytes())
			}
			if b.Output == "" {
				b.Output = fmt.Sprintf("go test -c produced no binary for %s", imp)
			}
			// A stale binary from an earlier build must not be run.
			os.Remove(bin)
		} else {
			b.Binary = bin
		}
		res[t.Name] = b
	}
	return res, nil
}

// importPath normalizes the import path of a build event: the go command
// names a test build "pkg [pkg.test]", and a directory it could not load
// "./labs/x" rather than by its import path.
func importPath(modPath, p string) string {
	p, _, _ = strings.Cut(p, " ")
	if rest, ok := strings.CutPrefix(p, "./"); ok {
		return modPath + "/" + rest
	}
	return p
}

// withEnv returns env (os.Environ when nil) with kv set, replacing any
// earlier value of its key.
func withEnv(env []string, kv ...string) []string {
	if env == nil {
		env = os.Environ()
	}
	out := slices.Clone(env)
	for _, x := range kv {
		k, _, _ := strings.Cut(x, "=")
		out = slices.DeleteFunc(out, func(e string) bool { return strings.HasPrefix(e, k+"=") })
		out = append(out, x)
	}
	return out
}

func record(outputs map[string]*strings.Builder, failed map[string]bool, imp string, ev buildEvent) {
	switch ev.Action {
	case "build-output":
		if outputs[imp] == nil {
			outputs[imp] = &strings.Builder{}
		}
		outputs[imp].WriteString(ev.Output)
	case "build-fail":
		failed[imp] = true
	}
}

func goCmd(g string) string {
	if g == "" {
		return "go"
	}
	return g
}

// ModulePath reads the module path from root/go.mod.
func ModulePath(root string) (string, error) {
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("read go.mod: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	return "", fmt.Errorf("%s has no module line", filepath.Join(root, "go.mod"))
}

// Go runs the go command in dir in a process group of its own and returns
// its combined output. When ctx ends, the whole group (the go command and
// the compilers and linkers it started) is killed.
func Go(ctx context.Context, goPath, dir string, env []string, args ...string) ([]byte, error) {
	res, err := GoWithLimits(ctx, goPath, dir, env, GoLimits{Output: 64 << 20}, args...)
	return res.Output, err
}

// interruptGrace is how long a cancelled go command has to clean up after
// an interrupt before it is killed.
const interruptGrace = 2 * time.Second
