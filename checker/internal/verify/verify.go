// Package verify proves the catalog true: every lab fails for exactly its
// declared kinds on every run, every reference solution passes on every
// run, every variant under solutions/<id>/testdata/variants ends as its want file
// says, with each GOMAXPROCS asked for; and the folders agree with the
// catalog (see catalog.Check).
package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/racelab/racelab/checker/internal/catalog"
	"github.com/racelab/racelab/checker/internal/engine"
)

// Options say how hard to verify.
type Options struct {
	Runs       int   // runs of each subject per GOMAXPROCS value
	GOMAXPROCS []int // e.g. 1 and 2
	// Rotate runs each subject Runs times in all, taking the GOMAXPROCS
	// values in turn across subjects and runs, instead of Runs times at
	// each value: a quick check that still exercises every value.
	Rotate   bool
	Variants bool // also run each solution's testdata/variants
	// SlowAfter flags any run slower than this: every verdict must arrive
	// in seconds.
	SlowAfter time.Duration
	Progress  func(engine.Progress)
}

// A Subject is one thing verified: a lab, its solution, or a variant.
type Subject struct {
	Lab  catalog.Lab
	Name string // "lab", "solution", or the variant's name
	Dir  string // the package directory relative to the root
	Want Want
	// overlay maps files of Dir to replacements (variants only).
	overlay map[string]string
}

// Want is a subject's required outcome.
type Want struct {
	Pass  bool
	Kinds []catalog.Kind // when failing, exactly these
	// Located requires the headline finding on a line of the lab's
	// editable files: the broken lab as shipped must show the learner
	// where to look.
	Located bool
}

func (w Want) String() string {
	if w.Pass {
		return "pass"
	}
	var ks []string
	for _, k := range w.Kinds {
		ks = append(ks, string(k))
	}
	return "fail: " + strings.Join(ks, ", ")
}

// A Result is how one subject fared over all its runs.
type Result struct {
	Subject  Subject
	Runs, OK int
	Bad      []string // one line per run that did not end as wanted
	Slowest  time.Duration
}

// A Report is the outcome of a verification.
type Report struct {
	Problems []catalog.Problem // the folders and the catalog disagree
	Results  []Result
}

// OK reports whether everything verified.
func (r Report) OK() bool {
	if len(r.Problems) > 0 {
		return false
	}
	for _, res := range r.Results {
		if res.OK != res.Runs || res.Runs == 0 {
			return false
		}
	}
	return true
}

// Verify runs the checks for labs, building with base's toolchain and root.
func Verify(ctx context.Context, base *engine.Engine, cat catalog.Catalog, labs []catalog.Lab, o Options) (Report, error) {
	var rep Report
	for _, p := range cat.Check(base.Root) {
		if p.Lab == "" || slices.ContainsFunc(labs, func(l catalog.Lab) bool { return l.ID == p.Lab }) {
			rep.Problems = append(rep.Problems, p)
		}
	}
	var subjects []Subject
	for _, l := range labs {
		subjects = append(subjects,
			Subject{Lab: l, Name: "lab", Dir: l.Dir(), Want: Want{Kinds: l.Kinds, Located: true}},
			Subject{Lab: l, Name: "solution", Dir: l.SolutionDir(), Want: Want{Pass: true}})
	}
	if o.Variants {
		vs, probs := LoadVariants(base.Root, labs)
		rep.Problems = append(rep.Problems, probs...)
		subjects = append(subjects, vs...)
	}
	if len(o.GOMAXPROCS) == 0 {
		o.GOMAXPROCS = []int{1, 2}
	}
	if o.Runs <= 0 {
		o.Runs = 1
	}

	// Labs and solutions share one build. Variants need overlays; the
	// k-th variant of every lab share one build (a round): one go command
	// and one overlay for a variant of each lab, not one per variant.
	type group struct {
		eng      *engine.Engine
		subjects []Subject
	}
	plain := group{eng: base}
	var rounds [][]Subject
	nth := map[string]int{}
	for _, s := range subjects {
		if s.overlay == nil {
			plain.subjects = append(plain.subjects, s)
			continue
		}
		k := nth[s.Lab.ID]
		nth[s.Lab.ID]++
		if k == len(rounds) {
			rounds = append(rounds, nil)
		}
		rounds[k] = append(rounds[k], s)
	}
	// The rounds' binary folders and overlays are shared by every verify
	// of this clone: a second verify (make test beside make verify) waits
	// for this one instead of rewriting the overlays under it.
	if len(rounds) > 0 {
		variants := filepath.Join(base.BinDir, "..", "variants")
		if err := os.MkdirAll(variants, 0o755); err != nil {
			return rep, err
		}
		unlock, err := engine.LockDir(variants)
		if err != nil {
			return rep, err
		}
		defer unlock()
	}
	groups := []group{plain}
	for k, subs := range rounds {
		eng, err := variantEngine(base, k, subs)
		if err != nil {
			return rep, err
		}
		groups = append(groups, group{eng: eng, subjects: subs})
	}

	results := make([][]Result, len(groups))
	errs := make([]error, len(groups))
	// Variant groups build separately; run two groups at once so a build
	// overlaps another group's tests, and each engine runs its own jobs in
	// parallel.
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			g.eng.Progress = o.Progress
			results[i], errs[i] = runGroup(ctx, g.eng, g.subjects, o)
		})
	}
	wg.Wait()
	for i := range groups {
		if errs[i] != nil {
			return rep, errs[i]
		}
		rep.Results = append(rep.Results, results[i]...)
	}
	order := func(r Result) string {
		kind := map[string]string{"lab": "0", "solution": "1"}[r.Subject.Name]
		if kind == "" {
			kind = "2" + r.Subject.Name
		}
		return fmt.Sprintf("%04d|%s", slices.IndexFunc(labs, func(l catalog.Lab) bool { return l.ID == r.Subject.Lab.ID }), kind)
	}
	slices.SortStableFunc(rep.Results, func(a, b Result) int { return strings.Compare(order(a), order(b)) })
	return rep, nil
}

func runGroup(ctx context.Context, eng *engine.Engine, subjects []Subject, o Options) ([]Result, error) {
	var jobs []engine.Job
	var owner []int
	for si, s := range subjects {
		if o.Rotate {
			for r := range o.Runs {
				p := o.GOMAXPROCS[(rotation(s)+r)%len(o.GOMAXPROCS)]
				jobs = append(jobs, engine.Job{Lab: s.Lab, Name: jobName(s), Dir: s.Dir, GOMAXPROCS: p})
				owner = append(owner, si)
			}
			continue
		}
		for _, p := range o.GOMAXPROCS {
			for range o.Runs {
				jobs = append(jobs, engine.Job{Lab: s.Lab, Name: jobName(s), Dir: s.Dir, GOMAXPROCS: p})
				owner = append(owner, si)
			}
		}
	}
	outcomes, err := eng.Run(ctx, jobs)
	if err != nil {
		return nil, err
	}
	results := make([]Result, len(subjects))
	for i := range subjects {
		results[i].Subject = subjects[i]
	}
	for i, oc := range outcomes {
		r := &results[owner[i]]
		r.Runs++
		r.Slowest = max(r.Slowest, oc.Duration)
		if why := judge(r.Subject.Want, oc, o.SlowAfter); why != "" {
			r.Bad = append(r.Bad, fmt.Sprintf("GOMAXPROCS=%d: %s", oc.Job.GOMAXPROCS, why))
		} else {
			r.OK++
		}
	}
	return results, nil
}

func jobName(s Subject) string { return s.Dir }

// rotation spreads subjects over the GOMAXPROCS values: a stable number
// from the subject's lab and name, so a subject runs with the same value
// every time verify rotates.
func rotation(s Subject) int {
	var h uint32
	for _, c := range s.Lab.ID + "/" + s.Name {
		h = h*31 + uint32(c)
	}
	return int(h % 1024)
}

// judge says why an outcome is not what was wanted, or "" when it is.
func judge(w Want, oc engine.Outcome, slowAfter time.Duration) string {
	if oc.Status == engine.Errored {
		return "could not run: " + oc.Err.Error()
	}
	if slowAfter > 0 && oc.Duration > slowAfter {
		return fmt.Sprintf("took %s; every verdict must arrive within %s", oc.Duration.Round(10*time.Millisecond), slowAfter)
	}
	got := oc.Result.Kinds()
	if w.Pass {
		if oc.Status == engine.Fixed {
			return ""
		}
		f, _ := oc.Result.Primary()
		return fmt.Sprintf("failed (%s) but must pass: %s", kindList(got), f.Summary)
	}
	if oc.Status == engine.Fixed {
		return fmt.Sprintf("passed but must fail with %s: the lab is accidentally solved, or its tests cannot fail", kindList(w.Kinds))
	}
	if !sameKinds(got, w.Kinds) {
		f, _ := oc.Result.Primary()
		return fmt.Sprintf("failed with %s but must fail with exactly %s (%s)", kindList(got), kindList(w.Kinds), f.Summary)
	}
	if w.Located {
		// The learner is told where to look: the headline finding is on a
		// line of a file they edit.
		f, _ := oc.Result.Primary()
		if f.File == "" || !slices.Contains(oc.Job.Lab.Files, path.Base(f.File)) || path.Dir(f.File) != oc.Job.Lab.Dir() {
			return fmt.Sprintf("failed with %s as declared, but its headline does not point at a line of %s: %q at %q",
				kindList(got), strings.Join(oc.Job.Lab.Files, ", "), f.Summary, f.Location())
		}
	}
	return ""
}

func sameKinds(a, b []catalog.Kind) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

func kindList(ks []catalog.Kind) string {
	if len(ks) == 0 {
		return "nothing"
	}
	var s []string
	for _, k := range ks {
		s = append(s, string(k))
	}
	return strings.Join(s, ", ")
}

// LoadVariants reads the variants of labs, from each solution's
// testdata/variants: each folder holds replacement editable files and a
// want file ("pass", or "fail: kind[, kind]", after any # comment lines).
func LoadVariants(root string, labs []catalog.Lab) ([]Subject, []catalog.Problem) {
	var out []Subject
	var probs []catalog.Problem
	for _, l := range labs {
		rel := l.SolutionDir() + "/" + catalog.VariantsDir
		dir := filepath.Join(root, rel)
		ents, err := os.ReadDir(dir)
		if err != nil {
			probs = append(probs, catalog.Problem{Lab: l.ID, Msg: fmt.Sprintf("no variants in %s: keep the other fixes that prove the tests there, at least one correct", rel)})
			continue
		}
		passing := 0
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			vdir := filepath.Join(dir, e.Name())
			s, err := loadVariant(root, l, vdir)
			if err != nil {
				probs = append(probs, catalog.Problem{Lab: l.ID, Msg: fmt.Sprintf("variant %s: %v", e.Name(), err)})
				continue
			}
			if s.Want.Pass {
				passing++
			}
			out = append(out, s)
		}
		if passing == 0 {
			probs = append(probs, catalog.Problem{Lab: l.ID, Msg: fmt.Sprintf("no passing variant in %s: keep an alternative correct fix, so the tests are known to accept more than one answer", rel)})
		}
	}
	return out, probs
}

func loadVariant(root string, l catalog.Lab, vdir string) (Subject, error) {
	s := Subject{Lab: l, Name: filepath.Base(vdir), Dir: l.Dir(), overlay: map[string]string{}}
	data, err := os.ReadFile(filepath.Join(vdir, "want"))
	if err != nil {
		return s, fmt.Errorf("no want file: write `pass` or `fail: KIND`")
	}
	// # lines say what the variant does and why it must end so.
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	want := strings.Join(lines, " ")
	switch {
	case want == "pass":
		s.Want.Pass = true
	case strings.HasPrefix(want, "fail:"):
		for _, k := range strings.Split(strings.TrimPrefix(want, "fail:"), ",") {
			k := catalog.Kind(strings.TrimSpace(k))
			if !slices.Contains(catalog.Kinds, k) {
				return s, fmt.Errorf("want names unknown kind %q (kinds: %v)", k, catalog.Kinds)
			}
			s.Want.Kinds = append(s.Want.Kinds, k)
		}
	default:
		return s, fmt.Errorf("want file says %q: write `pass` or `fail: KIND`", want)
	}
	ents, err := os.ReadDir(vdir)
	if err != nil {
		return s, err
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		if !slices.Contains(l.Files, e.Name()) {
			return s, fmt.Errorf("%s is not an editable file of the lab (%s)", e.Name(), strings.Join(l.Files, ", "))
		}
		info, err := catalog.ParseFile(filepath.Join(vdir, e.Name()))
		if err != nil {
			return s, err
		}
		for _, imp := range info.Imports {
			if !l.MayImport(imp) {
				return s, fmt.Errorf("%s imports %q, outside the lab's import allowlist", e.Name(), imp)
			}
		}
		s.overlay[filepath.Join(root, l.Dir(), e.Name())] = filepath.Join(vdir, e.Name())
	}
	if len(s.overlay) == 0 {
		return s, fmt.Errorf("holds no replacement for %s", strings.Join(l.Files, ", "))
	}
	return s, nil
}

// variantEngine returns an engine that builds round k's labs with their
// variants' files overlaid, in a binary directory of its own.
func variantEngine(base *engine.Engine, k int, subs []Subject) (*engine.Engine, error) {
	eng := *base
	eng.BinDir = filepath.Join(base.BinDir, "..", "variants", fmt.Sprintf("round%d", k))
	if err := os.MkdirAll(eng.BinDir, 0o755); err != nil {
		return nil, err
	}
	replace := map[string]string{}
	for _, s := range subs {
		maps.Copy(replace, s.overlay)
	}
	data, err := json.Marshal(map[string]any{"Replace": replace})
	if err != nil {
		return nil, err
	}
	eng.Overlay = filepath.Join(eng.BinDir, "overlay.json")
	if err := os.WriteFile(eng.Overlay, data, 0o644); err != nil {
		return nil, err
	}
	return &eng, nil
}
