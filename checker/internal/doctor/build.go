package doctor

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
	"strings"
	"sync"

	"github.com/racelab/racelab/checker/internal/runner"
)

// built is the outcome of building one package's test binary.
type built struct {
	Binary string
	Failed bool
	Output string // the compiler's messages, when it failed
}

// buildTests compiles the test binaries of pkgs with -race into binDir,
// through overlay when it is not empty. Packages whose binaries would
// share a name (a/util and b/util both make util.test) go to different
// subdirectories, one go command each; a package that fails does not stop
// the others. vet is off: the overlay's files would be vetted, and the
// doctor is about what the tests do, not what vet says (go vet does that).
//
// The error is non-nil only when the go command could not run.
func buildTests(ctx context.Context, goCmd string, env []string, modRoot, binDir, overlay, tags string, pkgs []Package) (map[string]built, error) {
	groups := map[int][]Package{}
	taken := map[int]map[string]bool{}
	for _, p := range pkgs {
		base := binaryName(p)
		g := 0
		for taken[g][base] {
			g++
		}
		if taken[g] == nil {
			taken[g] = map[string]bool{}
		}
		taken[g][base] = true
		groups[g] = append(groups[g], p)
	}
	out := map[string]built{}
	var mu sync.Mutex // protects out and firstErr
	var firstErr error
	var wg sync.WaitGroup
	for g, ps := range groups {
		dir := filepath.Join(binDir, fmt.Sprintf("g%d", g))
		wg.Go(func() {
			res, err := buildGroup(ctx, goCmd, env, modRoot, dir, overlay, tags, ps)
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

// binaryName is the file go test -c -o DIR/ writes for p.
func binaryName(p Package) string {
	return p.ImportPath[strings.LastIndex(p.ImportPath, "/")+1:] + ".test"
}

func buildGroup(ctx context.Context, goCmd string, env []string, modRoot, dir, overlay, tags string, ps []Package) (map[string]built, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	args := []string{"test", "-race", "-c", "-json", "-vet=off", "-o", dir + string(filepath.Separator)}
	if overlay != "" {
		args = append(args, "-overlay", overlay)
	}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	for _, p := range ps {
		args = append(args, p.ImportPath)
	}
	// The go command's work directory beside the binaries: removed even
	// when the go command is killed.
	tmp, err := os.MkdirTemp(dir, ".gotmp-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	out, runErr := runner.Go(ctx, goCmd, modRoot, withEnv(env, "GOTMPDIR="+tmp), args...)
	var exitErr *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exitErr) {
		return nil, fmt.Errorf("run go test -c: %w", runErr)
	}
	type ev struct{ ImportPath, Action, Output string }
	outputs := map[string]*strings.Builder{}
	failed := map[string]bool{}
	var loose strings.Builder // what the go command said outside any package's events
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var e ev
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Action == "" {
			loose.WriteString(sc.Text() + "\n")
			continue
		}
		imp := e.ImportPath
		if i := strings.Index(imp, " ["); i >= 0 {
			// "pkg [pkg.test]", "pkg_test [pkg.test]": the binary's package.
			imp = strings.TrimSuffix(imp[i+2:], ".test]")
		}
		switch e.Action {
		case "build-output":
			if outputs[imp] == nil {
				outputs[imp] = &strings.Builder{}
			}
			outputs[imp].WriteString(e.Output)
		case "build-fail":
			failed[imp] = true
		}
	}
	res := map[string]built{}
	for _, p := range ps {
		bin := filepath.Join(dir, binaryName(p))
		b := built{}
		_, statErr := os.Stat(bin)
		if o := outputs[p.ImportPath]; o != nil {
			b.Output = o.String()
		}
		if failed[p.ImportPath] || statErr != nil {
			b.Failed = true
			if b.Output == "" {
				// A dependency that is not a target failed: its messages
				// say why.
				var all strings.Builder
				for imp, o := range outputs {
					if failed[imp] {
						all.WriteString(o.String())
					}
				}
				all.WriteString(loose.String())
				b.Output = all.String()
			}
			if strings.TrimSpace(b.Output) == "" {
				b.Output = fmt.Sprintf("go test -c produced no test binary for %s", p.ImportPath)
			}
			os.Remove(bin) // never run a stale binary
		} else {
			b.Binary = bin
		}
		res[p.ImportPath] = b
	}
	return res, nil
}

// withEnv returns env with each key=value set, replacing earlier values.
func withEnv(env []string, kv ...string) []string {
	out := append([]string(nil), env...)
	for _, x := range kv {
		k, _, _ := strings.Cut(x, "=")
		kept := out[:0]
		for _, e := range out {
			if !strings.HasPrefix(e, k+"=") {
				kept = append(kept, e)
			}
		}
		out = append(kept, x)
	}
	return out
}

// getEnv is the last value of key in env.
func getEnv(env []string, key string) string {
	v := ""
	for _, e := range env {
		if rest, ok := strings.CutPrefix(e, key+"="); ok {
			v = rest
		}
	}
	return v
}
