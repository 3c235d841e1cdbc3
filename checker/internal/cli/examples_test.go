package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	"go.yaml.in/yaml/v3"
)

// The example files of docs/grading, each checked here: the workflows by
// actionlint (as GitHub reads them: syntax, expressions, actions'
// inputs, job dependencies), every checker command in them against the
// checker's own flags, and the fields that make each one work.

const examples = "docs/grading"

// workflow is the part of a GitHub Actions workflow the tests look at.
type workflow struct {
	Name string
	Jobs map[string]struct {
		Needs    any
		If       string
		Strategy struct {
			Matrix map[string]any
		}
		Steps []struct {
			ID               string
			Name             string
			Uses             string
			Run              string
			If               string
			WorkingDirectory string `yaml:"working-directory"`
			Env              map[string]string
			With             map[string]string
		}
	}
}

func readExample(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root(t), examples, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// lint runs actionlint on a workflow and fails the test for each error.
func lint(t *testing.T, name string) workflow {
	t.Helper()
	data := readExample(t, name)
	l, err := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A path that does not exist from here, so actionlint reads no
	// project configuration; it names the file in its messages.
	errs, err := l.Lint(filepath.Join(examples, name), data, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range errs {
		t.Errorf("actionlint: %s:%d:%d: %s [%s]", name, e.Line, e.Column, e.Message, e.Kind)
	}
	var w workflow
	if err := yaml.Unmarshal(data, &w); err != nil {
		t.Fatal(err)
	}
	return w
}

// checkerCommands finds the checker commands in a shell script ("go run
// ./checker CMD ARGS", up to the end of the command) and returns each as
// its words, quotes removed.
func checkerCommands(script string) [][]string {
	script = strings.ReplaceAll(script, "\\\n", " ")
	var cmds [][]string
	for _, line := range strings.Split(script, "\n") {
		words := shellWords(line)
		for i := 0; i+2 < len(words); i++ {
			if words[i] != "go" || words[i+1] != "run" || words[i+2] != "./checker" {
				continue
			}
			end := i + 3
			for end < len(words) && !slices.Contains([]string{"||", "&&", ";", "|", ">", ">>"}, words[end]) {
				end++
			}
			cmds = append(cmds, words[i+3:end])
		}
	}
	return cmds
}

// shellWords splits a line into words as sh does, for what the examples
// use: single and double quotes, and operators between spaces.
func shellWords(line string) []string {
	var words []string
	var cur strings.Builder
	in, quote := false, rune(0)
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		case r == '#' && !in:
			return words
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}

// checkFlags parses a checker command's arguments with the command's own
// flags and returns the flags' values as written.
func checkFlags(t *testing.T, where string, args []string) map[string]string {
	t.Helper()
	if len(args) == 0 {
		t.Errorf("%s: a checker command with no command name", where)
		return nil
	}
	fs := flagsFor(args[0])
	if fs == nil {
		t.Errorf("%s: no checker command %q", where, args[0])
		return nil
	}
	if _, err := parse(fs, args[1:]); err != nil {
		t.Errorf("%s: %q: %v", where, strings.Join(args, " "), err)
	}
	set := map[string]string{"command": args[0]}
	for i, a := range args[1:] {
		name := strings.TrimLeft(a, "-")
		if !strings.HasPrefix(a, "-") || fs.Lookup(name) == nil {
			continue
		}
		set[name] = "true"
		if _, isBool := fs.Lookup(name).Value.(interface{ IsBoolFlag() bool }); !isBool && i+2 < len(args) {
			set[name] = args[i+2]
		}
	}
	return set
}

// TestClassroomWorkflow: the assignment workflow is valid, has the names
// the Classroom reporter requires, grades the learner's checkout with a
// grader checked out apart from it, and hands the Classroom result to
// the reporter under the name the reporter reads.
func TestClassroomWorkflow(t *testing.T) {
	w := lint(t, "classroom.yml")
	if w.Name != "Autograding Tests" || len(w.Jobs) != 1 {
		t.Fatalf("workflow %q with %d jobs; Classroom's reporter reads only \"Autograding Tests\" with one job", w.Name, len(w.Jobs))
	}
	job, ok := w.Jobs["run-autograding-tests"]
	if !ok {
		t.Fatalf("the job must be named run-autograding-tests for Classroom's reporter")
	}
	checkouts := map[string]string{} // path -> repository ("" for the learner's)
	results := map[string]bool{}     // step ids that write a Classroom result
	var learner string
	for _, s := range job.Steps {
		if strings.HasPrefix(s.Uses, "actions/checkout@") {
			checkouts[s.With["path"]] = s.With["repository"]
			if s.With["repository"] == "" {
				learner = s.With["path"]
			}
		}
		for _, args := range checkerCommands(s.Run) {
			f := checkFlags(t, "step "+s.Name, args)
			if f["command"] != "grade" || f["classroom"] == "" {
				continue
			}
			sub := filepath.Clean(filepath.Join(s.WorkingDirectory, f["submission"]))
			if learner == "" || sub != filepath.Clean(learner) {
				t.Errorf("step %s grades %s; want the learner's checkout %q", s.Name, sub, learner)
			}
			if repo, ok := checkouts[filepath.Clean(s.WorkingDirectory)]; !ok || repo == "" {
				t.Errorf("step %s runs the checker in %q, which is not a checkout of the grader apart from the learner's", s.Name, s.WorkingDirectory)
			}
			if s.ID == "" || !strings.Contains(s.Run, `result=`) || !strings.Contains(s.Run, "$GITHUB_OUTPUT") {
				t.Errorf("step %s must have an id and write result=... to $GITHUB_OUTPUT", s.Name)
			}
			results[s.ID] = true
		}
	}
	if len(results) == 0 {
		t.Fatalf("no step runs grade -classroom")
	}
	reported := false
	for _, s := range job.Steps {
		if !strings.HasPrefix(s.Uses, "classroom-resources/autograding-grading-reporter@") {
			continue
		}
		reported = true
		for _, r := range strings.FieldsFunc(s.With["runners"], func(r rune) bool { return r == ',' || r == ' ' }) {
			v := s.Env[strings.ToUpper(r)+"_RESULTS"]
			m := regexp.MustCompile(`^\$\{\{\s*steps\.([\w-]+)\.outputs\.result\s*\}\}$`).FindStringSubmatch(v)
			if m == nil || !results[m[1]] {
				t.Errorf("the reporter reads runner %s from $%s_RESULTS = %q; want the result of a step running grade -classroom", r, strings.ToUpper(r), v)
			}
		}
	}
	if !reported {
		t.Errorf("no step runs classroom-resources/autograding-grading-reporter")
	}
}

// TestClassMatrixWorkflow: the class workflow is valid, its matrix is
// shards 1..N, each job grades its shard of N, and a merge job that
// always runs after them merges what they upload.
func TestClassMatrixWorkflow(t *testing.T) {
	w := lint(t, "grade-class.yml")
	var graders, mergers []string
	for name, job := range w.Jobs {
		for _, s := range job.Steps {
			for _, args := range checkerCommands(s.Run) {
				f := checkFlags(t, name+": "+s.Name, args)
				switch f["command"] {
				case "grade":
					graders = append(graders, name)
					shard := f["shard"]
					if strings.HasPrefix(shard, "$") {
						shard = s.Env[strings.TrimPrefix(shard, "$")]
					}
					if shard != "${{ matrix.shard }}/${{ strategy.job-total }}" {
						t.Errorf("%s grades shard %q; want ${{ matrix.shard }}/${{ strategy.job-total }}", name, shard)
					}
					shards, _ := job.Strategy.Matrix["shard"].([]any)
					for i, k := range shards {
						if k != i+1 {
							t.Errorf("%s: matrix.shard is %v; want 1, 2, ... N, so that K/N covers the class", name, shards)
							break
						}
					}
					if len(shards) < 2 {
						t.Errorf("%s: matrix.shard %v: want shards 1..N", name, shards)
					}
				case "merge":
					mergers = append(mergers, name)
					if job.If != "always()" || fmt.Sprint(job.Needs) != "grade" {
						t.Errorf("%s: needs %v, if %q; want it after the grade job, always (so a failed shard is reported as a gap)", name, job.Needs, job.If)
					}
				}
			}
		}
	}
	if !slices.Equal(graders, []string{"grade"}) || !slices.Equal(mergers, []string{"merge"}) {
		t.Errorf("jobs grading %q and merging %q; want grade and merge", graders, mergers)
	}
}

// TestIndexedJob: the Kubernetes manifest is an Indexed Job whose pod K
// grades shard K+1 of completions into a folder of its own, reading the
// class read-only.
func TestIndexedJob(t *testing.T) {
	var job struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string
		Spec       struct {
			CompletionMode string `yaml:"completionMode"`
			Completions    int
			Parallelism    int
			Template       struct {
				Spec struct {
					RestartPolicy string `yaml:"restartPolicy"`
					Containers    []struct {
						Command   []string
						Args      []string
						Resources struct {
							Limits map[string]string
						}
						VolumeMounts []struct {
							Name      string
							MountPath string `yaml:"mountPath"`
							ReadOnly  bool   `yaml:"readOnly"`
						} `yaml:"volumeMounts"`
					}
				}
			}
		}
	}
	if err := yaml.Unmarshal(readExample(t, "grade-class-job.yaml"), &job); err != nil {
		t.Fatal(err)
	}
	s := job.Spec
	if job.APIVersion != "batch/v1" || job.Kind != "Job" || s.CompletionMode != "Indexed" || s.Completions < 2 || s.Parallelism < 1 || s.Parallelism > s.Completions {
		t.Fatalf("%s %s, completionMode %q, completions %d, parallelism %d; want a batch/v1 Indexed Job of N ≥ 2 completions", job.APIVersion, job.Kind, s.CompletionMode, s.Completions, s.Parallelism)
	}
	if s.Template.Spec.RestartPolicy != "Never" && s.Template.Spec.RestartPolicy != "OnFailure" {
		t.Errorf("restartPolicy %q: a Job's pods need Never or OnFailure", s.Template.Spec.RestartPolicy)
	}
	graded := false
	for _, c := range s.Template.Spec.Containers {
		script := strings.Join(append(c.Command, c.Args...), " ")
		for _, args := range checkerCommands(script) {
			f := checkFlags(t, "the container", args)
			if f["command"] != "grade" {
				continue
			}
			graded = true
			m := regexp.MustCompile(`(\w+)=\$\(\(JOB_COMPLETION_INDEX \+ 1\)\)`).FindStringSubmatch(script)
			if m == nil {
				t.Fatalf("no K=$((JOB_COMPLETION_INDEX + 1)) in %q: shards are numbered from 1, completion indexes from 0", script)
			}
			if want := "$" + m[1] + "/" + strconv.Itoa(s.Completions); f["shard"] != want {
				t.Errorf("--shard %q; want %q: N must be the Job's completions", f["shard"], want)
			}
			if !strings.Contains(f["out"], "$"+m[1]) {
				t.Errorf("-out %q is the same for every pod; each shard needs a folder of its own on the shared volume", f["out"])
			}
			for _, v := range c.VolumeMounts {
				if v.MountPath == f["class"] && !v.ReadOnly {
					t.Errorf("the class volume %s is mounted writable; grading only reads it", v.Name)
				}
			}
			if c.Resources.Limits["memory"] == "" {
				t.Errorf("no memory limit on the grading container")
			}
		}
	}
	if !graded {
		t.Errorf("no container runs go run ./checker grade")
	}
}
