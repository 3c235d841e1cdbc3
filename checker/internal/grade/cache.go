package grade

// The build cache.
//
// Untrusted code is never compiled with the grader's own build cache: a
// few kilobytes of crafted constants make the compiler write hundreds of
// MiB, and what one build leaves in a cache is there for the next build
// to use. Instead, each lab of a submission is built with a cache of its
// own, made fresh from a seed and removed with the lab, under limits on
// its memory, time and disk (see Options).
//
// Go has no layered caches, and the race-instrumented standard library
// and the labs' dependencies take minutes to compile. So the seed is a
// cache that only trusted code is ever compiled into: PrepareCache builds
// the grader's own pristine labs, instrumented as for grading, then again
// with the reference solutions' files in place, and a package importing
// everything graded code may import, with exactly the commands grading
// uses. A lab's cache is the seed's files, hard-linked:
// a few thousand links, tens of milliseconds.
//
// Sharing the seed's files is safe. An untrusted build writes new entries
// into its own folder, which is removed. It would only ever write to a
// linked file for an action whose id is already in the seed; action ids
// hash every input, so such an action compiles trusted code only, and the
// go command writes an output file (named by the hash of its content)
// only when the content is not already there. Nothing the submission
// controls reaches the seed.

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/racelab/racelab/checker/internal/catalog"
	"github.com/racelab/racelab/checker/internal/engine"
	"github.com/racelab/racelab/checker/internal/fsutil"
	"github.com/racelab/racelab/checker/internal/runner"
)

// seedPkgDir holds the package that imports everything graded code may
// import, so that the seed holds their race-instrumented builds.
const seedPkgDir = "internal/racelabseed"

// cacheDir is where the grader keeps its seed: Options.Cache, or a
// folder in the user's cache for the grader's repository.
func cacheDir(o Options) string {
	if o.Cache != "" {
		return o.Cache
	}
	return filepath.Join(engine.CacheDir(o.Root), "grade")
}

// PrepareCache fills the seed with what building o.Labs needs, when it
// does not hold it yet: the first time on a machine (or with a new
// toolchain, or changed labs) this takes minutes; after that it costs a
// few hashes. Grade calls it; a caller grading many submissions can call
// it first, so that the time is not charged to the first one. A lab
// whose pristine tests cannot be built is named in the error, and Grade
// reports it as an Error.
func PrepareCache(ctx context.Context, o Options) error {
	_, err := prepareSeed(ctx, withDefaults(o))
	return err
}

// prepareSeed brings the seed up to date and returns, for each lab whose
// pristine build failed, the build's message. Each lab has a stamp, named
// by a hash of everything its build depends on (the toolchain, go.mod and
// go.sum, the lab's pristine files, the harness): when every stamp is
// there, nothing is copied or locked.
func prepareSeed(ctx context.Context, o Options) (map[string]string, error) {
	dir := cacheDir(o)
	stamps, err := seedStamps(o)
	if err != nil {
		return nil, err
	}
	ready := func() []catalog.Lab {
		var todo []catalog.Lab
		for _, l := range o.Labs {
			if _, err := os.Stat(stamps[l.ID]); err != nil {
				todo = append(todo, l)
			}
		}
		return todo
	}
	if len(ready()) == 0 {
		return nil, nil
	}
	for _, d := range []string{"seed", "stamps"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("create the grader's build cache: %w", err)
		}
	}
	unlock, err := lockFile(filepath.Join(dir, ".lock"), syscall.LOCK_EX)
	if err != nil {
		return nil, err
	}
	defer unlock()
	todo := ready() // another grader may have filled it meanwhile
	if len(todo) == 0 {
		return nil, nil
	}
	tmp, err := os.MkdirTemp(dir, "seeding-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	tree := filepath.Join(tmp, "tree")
	if err := makeTree(o.Root, tree, o.Labs); err != nil {
		return nil, fmt.Errorf("copy the pristine labs: %w", err)
	}
	for _, l := range todo {
		if err := instrument(filepath.Join(tree, l.Dir()), l); err != nil {
			return nil, fmt.Errorf("instrument the pristine %s: %w", l.ID, err)
		}
	}

	// Trusted code only: the go command may download modules here, which
	// grading itself never does.
	env := append(without(buildEnv(o.Toolchain.Env), "GOCACHE", "GOTMPDIR"), "GOCACHE="+filepath.Join(dir, "seed"), "GOTMPDIR="+tmp)
	args := []string{"build", "-race", "-o", os.DevNull, "./" + harnessPkgDir, "./" + seedPkgDir}
	var targets []runner.Target
	for _, l := range todo {
		args = append(args, "./"+l.Dir())
		targets = append(targets, runner.Target{Name: l.Dir(), Dir: l.Dir()})
	}
	ctx, cancel := context.WithTimeout(ctx, o.SeedLimit)
	defer cancel()
	// A lab that does not build is found by the test build below.
	if _, err := runner.GoWithLimits(ctx, o.Toolchain.Go, tree, env, runner.GoLimits{}, args...); err != nil && ctx.Err() == nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return nil, fmt.Errorf("fill the grader's build cache: %w", err)
		}
	}
	built, err := runner.Build(ctx, runner.BuildConfig{Go: o.Toolchain.Go, Module: tree, BinDir: filepath.Join(tmp, "bin"), Env: env}, targets)
	if ctx.Err() != nil {
		return nil, fmt.Errorf("filling the grader's build cache took longer than %s", o.SeedLimit)
	}
	if err != nil {
		return nil, fmt.Errorf("fill the grader's build cache: %w", err)
	}
	// The reference solutions are the grader's own code too: compiled in
	// place of the labs' files, they make a submission that holds them
	// (and every hostile case built on them) cost only its link. A
	// solution that does not build is verify's business, not grading's.
	for _, l := range todo {
		for _, f := range l.Files {
			if err := fsutil.CopyFile(filepath.Join(o.Root, l.SolutionDir(), f), filepath.Join(tree, l.Dir(), f)); err != nil {
				return nil, err
			}
		}
	}
	runner.GoWithLimits(ctx, o.Toolchain.Go, tree, env, runner.GoLimits{}, args...)
	runner.Build(ctx, runner.BuildConfig{Go: o.Toolchain.Go, Module: tree, BinDir: filepath.Join(tmp, "bin"), Env: env}, targets)

	broken := map[string]string{}
	for _, l := range todo {
		if b := built[l.Dir()]; b.Failed {
			broken[l.ID] = b.Output
			continue
		}
		if err := os.WriteFile(stamps[l.ID], nil, 0o644); err != nil {
			return nil, err
		}
	}
	if len(broken) > 0 {
		ids := slices.Sorted(maps.Keys(broken))
		return broken, fmt.Errorf("the grader's own copy of %s does not build with the grading harness: run `go run ./checker verify`", strings.Join(ids, ", "))
	}
	return nil, nil
}

// seedStamps names each lab's stamp: a hash of the toolchain, go.mod and
// go.sum, the harness and the seed package (this grader's), and the lab's
// pristine files and tests.
func seedStamps(o Options) (map[string]string, error) {
	dir := cacheDir(o)
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%q\x00", toolchainSig(o.Toolchain), harnessPkg, harnessTemplate.Root.String(), catalog.SafeImports)
	for _, f := range []string{"go.mod", "go.sum"} {
		if err := hashFile(h, o.Root, f); err != nil {
			return nil, err
		}
	}
	common := h.Sum(nil)
	stamps := map[string]string{}
	for _, l := range o.Labs {
		h := sha256.New()
		h.Write(common)
		fmt.Fprintf(h, "%q %q", l.Tests, l.Imports)
		ents, err := os.ReadDir(filepath.Join(o.Root, l.Dir()))
		if err != nil {
			return nil, fmt.Errorf("read the grader's own %s: %w", l.Dir(), err)
		}
		for _, e := range ents {
			if e.Type().IsRegular() {
				if err := hashFile(h, o.Root, l.Dir()+"/"+e.Name()); err != nil {
					return nil, err
				}
			}
		}
		for _, f := range l.Files {
			hashFile(h, o.Root, l.SolutionDir()+"/"+f) // a missing solution is verify's business
		}
		stamps[l.ID] = filepath.Join(dir, "stamps", fmt.Sprintf("%s-%x", l.ID, h.Sum(nil)[:16]))
	}
	return stamps, nil
}

func hashFile(h io.Writer, root, rel string) error {
	f, err := os.Open(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(h, "%s\x00", rel)
	_, err = io.Copy(h, f)
	return err
}

// makeTree makes a module tree to build in: go.mod, go.sum and the
// pristine labs of the grader's repository, the harness's package and
// the seed package.
func makeTree(root, tree string, labs []catalog.Lab) error {
	if err := copyPristine(root, tree, labs); err != nil {
		return err
	}
	for path, data := range map[string]string{
		filepath.Join(tree, harnessPkgDir, "racelabgrader.go"): harnessPkg,
		filepath.Join(tree, seedPkgDir, "racelabseed.go"):      seedSource(labs),
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// seedSource is the seed package: it imports everything graded code may
// import.
func seedSource(labs []catalog.Lab) string {
	imports := slices.Clone(catalog.SafeImports)
	for _, l := range labs {
		imports = append(imports, l.Imports...)
	}
	slices.Sort(imports)
	var src strings.Builder
	src.WriteString("// Code generated by the Racelab grader. DO NOT EDIT.\n\n// Package racelabseed imports every package graded code may import.\npackage racelabseed\n\nimport (\n")
	for _, p := range slices.Compact(imports) {
		fmt.Fprintf(&src, "\t_ %q\n", p)
	}
	src.WriteString(")\n")
	return src.String()
}

// toolchainSig names the toolchain and the settings that change what it
// compiles.
func toolchainSig(tc engine.Toolchain) string {
	sig := tc.Version + "|" + tc.Go
	for _, k := range []string{"GOROOT", "GOARCH", "GOOS", "GOAMD64", "GOEXPERIMENT", "CGO_ENABLED", "CC", "CGO_CFLAGS", "CGO_LDFLAGS"} {
		sig += "|" + k + "=" + getenv(tc.Env, k)
	}
	return sig
}

func getenv(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

// labCache makes dst a build cache holding the seed's entries, linked.
// It takes a shared lock on the seed, so it never links a seed that is
// being filled.
func labCache(o Options, dst string) error {
	dir := cacheDir(o)
	unlock, err := lockFile(filepath.Join(dir, ".lock"), syscall.LOCK_SH)
	if err != nil {
		return err
	}
	defer unlock()
	seed := filepath.Join(dir, "seed")
	err = filepath.WalkDir(seed, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(seed, path)
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case !d.Type().IsRegular() || rel == "trim.txt":
			return nil
		}
		if err := os.Link(path, to); err != nil {
			// Another file system: copy.
			return fsutil.CopyFile(path, to)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("make a build cache from the seed: %w", err)
	}
	// A fresh trim stamp: the go command then has no reason to walk the
	// cache to trim it.
	return os.WriteFile(filepath.Join(dst, "trim.txt"), []byte(strconv.FormatInt(time.Now().Unix(), 10)+"\n"), 0o644)
}

// lockFile takes a lock (syscall.LOCK_EX or LOCK_SH) on path.
func lockFile(path string, how int) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
