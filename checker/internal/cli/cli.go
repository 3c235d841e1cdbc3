// Package cli implements the checker's commands. [Main] parses arguments,
// runs one command and returns the process's exit code; it never exits or
// touches the process's own streams, so tests run it in-process.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/racelab/racelab/checker/internal/catalog"
	"github.com/racelab/racelab/checker/internal/engine"
	"github.com/racelab/racelab/checker/internal/report"
)

// Exit codes, decided in one place.
const (
	ExitPass  = 0 // every graded lab passes
	ExitFail  = 1 // some lab fails
	ExitUsage = 2 // the command line is wrong
	ExitError = 3 // the checker itself failed
)

// Env is the world a command runs in.
type Env struct {
	Stdin          io.Reader // keys, for watch; nil when there is no input
	Stdout, Stderr io.Writer
	Dir            string // the working directory
	// Catalog is the curriculum; when nil, Main loads it from the
	// repository that holds Dir.
	Catalog catalog.Catalog
}

// usageError is a mistake on the command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// failed is returned by a command whose labs did not all pass; the command
// has already said why.
var errFailed = errors.New("some labs fail")

type command struct {
	name, args, short string
	run               func(ctx context.Context, env Env, args []string) error
}

var commands []command

func init() {
	commands = []command{
		{"check", "[flags] [LAB...]", "run every lab (or those named) and show a table of verdicts (the default)", runCheck},
		{"run", "[flags] LAB...", "run labs in depth: every finding in full", runRun},
		{"list", "[flags]", "the catalog, in curriculum order, with each lab's last verdict", runList},
		{"hint", "[flags] LAB", "show the next hint for a lab", runHint},
		{"watch", "[flags] [LAB]", "guided: the first lab not done, re-run on every save, then the next", runWatch},
		{"reset", "LAB", "restore a lab as shipped, keeping your version as a backup", runReset},
		{"solution", "[flags] LAB", "show the reference solution as a diff from your version, once the lab passes", runSolution},
		{"room", "[flags] PATH...", "facilitators: where each learner is, from their progress files (clones, or shared files)", runRoom},
		{"verify", "[flags]", "maintainers: prove every lab fails as declared and every solution passes", runVerify},
		{"grade", "--submission DIR | --class DIR [flags]", "grade a learner's copy of the repository without trusting it, or a whole class", runGrade},
		{"merge", "[flags] GRADEBOOK...", "course staff: combine the gradebooks of a class graded in shards (grade --class --shard K/N)", runMerge},
		{"doctor", "[flags] [PACKAGES]", "diagnose any Go module's tests: races, deadlocks, leaks, lock order (run it inside the module)", runDoctor},
		{"help", "[COMMAND]", "show help", runHelp},
	}
}

// Main runs the command line args (without the program name) and returns
// the exit code.
func Main(ctx context.Context, env Env, args []string) int {
	name, rest := "check", args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, rest = args[0], args[1:]
	}
	if slices.Contains([]string{"-h", "-help", "--help"}, name) || len(args) > 0 && slices.Contains([]string{"-h", "-help", "--help"}, args[0]) && name == "check" && len(rest) == 1 {
		name, rest = "help", nil
	}
	cmd, ok := lookup(name)
	if !ok {
		if cat, err := loadCatalog(env.Dir); err == nil {
			if l, isLab := cat.Lookup(name); isLab {
				fmt.Fprintf(env.Stderr, "racelab: %s is a lab, not a command: `go run ./checker run %s` runs it, `go run ./checker watch %s` re-runs it on every save\n", l.ID, l.ID, l.ID)
				return ExitUsage
			}
		}
		fmt.Fprintf(env.Stderr, "racelab: unknown command %q\n", name)
		if near := closestCommand(name); near != "" {
			fmt.Fprintf(env.Stderr, "did you mean `go run ./checker %s`?\n", near)
		}
		fmt.Fprintln(env.Stderr, "run `go run ./checker help` for the list of commands")
		return ExitUsage
	}
	var err error
	if env.Catalog == nil && cmd.name != "help" && cmd.name != "doctor" && cmd.name != "merge" {
		env.Catalog, err = loadCatalog(env.Dir)
	}
	if err == nil {
		err = cmd.run(ctx, env, rest)
	}
	var ue *usageError
	var se *engine.SetupError
	switch {
	case err == nil:
		return ExitPass
	case errors.Is(err, errFailed):
		return ExitFail
	case errors.Is(err, errIncomplete):
		fmt.Fprintf(env.Stderr, "racelab %s: %v\n", cmd.name, err)
		return ExitFail
	case errors.Is(err, flag.ErrHelp):
		// COMMAND -h: the same page as `help COMMAND`, not silence.
		runHelp(ctx, env, []string{cmd.name})
		return ExitPass
	case errors.As(err, &ue):
		fmt.Fprintf(env.Stderr, "racelab %s: %s\n", cmd.name, ue.msg)
		fmt.Fprintf(env.Stderr, "usage: go run ./checker %s %s (see `go run ./checker help %s`)\n", cmd.name, cmd.args, cmd.name)
		return ExitUsage
	case errors.As(err, &se):
		fmt.Fprintf(env.Stderr, "racelab: %s\n", se.Msg)
		return ExitError
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(env.Stderr, "racelab: interrupted")
		return ExitError
	default:
		fmt.Fprintf(env.Stderr, "racelab %s: %v\n", cmd.name, err)
		return ExitError
	}
}

// loadCatalog loads the curriculum of the repository that holds dir.
func loadCatalog(dir string) (catalog.Catalog, error) {
	root, err := engine.FindRoot(dir)
	if err != nil {
		return nil, err
	}
	cat, err := catalog.Load(root)
	if err != nil {
		return nil, &engine.SetupError{Msg: err.Error()}
	}
	return cat, nil
}

func lookup(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func closestCommand(name string) string {
	for _, c := range commands {
		if strings.HasPrefix(c.name, name) || strings.HasPrefix(name, c.name) {
			return c.name
		}
	}
	return ""
}

// parse parses flags and positional arguments in any order ("run bank -v"
// and "run -v bank" both work).
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef("%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func runHelp(_ context.Context, env Env, args []string) error {
	w := env.Stdout
	if len(args) > 0 {
		c, ok := lookup(args[0])
		if !ok {
			return usagef("no command %q", args[0])
		}
		fmt.Fprintf(w, "usage: go run ./checker %s %s\n\n%s.\n", c.name, c.args, c.short)
		if fs := flagsFor(c.name); fs != nil {
			fmt.Fprintln(w, "\nflags:")
			fs.SetOutput(w)
			fs.PrintDefaults()
		}
		return nil
	}
	fmt.Fprint(w, `Racelab's checker: runs the labs under the race detector, explains every
failure, and grades fixes.

usage: go run ./checker [COMMAND] [flags] [args]

commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-7s %s\n", c.name, c.short)
	}
	fmt.Fprint(w, `
exit codes: 0 every lab passes, 1 some lab fails, 2 usage error,
3 the checker itself failed (no Go, no C compiler, outside the repository).

Start with `+"`go run ./checker`"+`, then `+"`go run ./checker run LAB`"+` for the lab it suggests.
`)
	return nil
}

// flagsFor returns a command's flag set, for help.
func flagsFor(name string) *flag.FlagSet {
	switch name {
	case "check", "run":
		o := &checkOptions{}
		return o.flags(name)
	case "list":
		o := &listOptions{}
		return o.flags()
	case "hint":
		o := &hintOptions{}
		return o.flags()
	case "watch":
		o := &watchOptions{}
		return o.flags()
	case "solution":
		o := &solutionOptions{}
		return o.flags()
	case "room":
		o := &roomOptions{}
		return o.flags()
	case "verify":
		o := &verifyOptions{}
		return o.flags()
	case "grade":
		o := &gradeOptions{}
		return o.flags()
	case "doctor":
		o := &doctorOptions{}
		return o.flags()
	case "merge":
		o := &mergeOptions{}
		return o.flags()
	}
	return nil
}

// selectLabs resolves lab ids on the command line, in catalog order when
// none are named. An unknown id gets the closest names.
func selectLabs(cat catalog.Catalog, ids []string) ([]catalog.Lab, error) {
	if len(ids) == 0 {
		return slices.Clone(cat), nil
	}
	if len(ids) == 1 && ids[0] == "all" {
		return slices.Clone(cat), nil
	}
	var labs []catalog.Lab
	for _, id := range ids {
		l, ok := cat.Lookup(strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(id, "./"), "labs/"), "/"))
		if !ok {
			msg := fmt.Sprintf("no lab %q", id)
			if near := cat.Closest(id, 3); len(near) > 0 {
				msg += fmt.Sprintf("; did you mean %s?", strings.Join(near, ", "))
			}
			return nil, usagef("%s (`go run ./checker list` shows every lab)", msg)
		}
		if !slices.ContainsFunc(labs, func(x catalog.Lab) bool { return x.ID == l.ID }) {
			labs = append(labs, l)
		}
	}
	return labs, nil
}

// styleFor is the output style for w, plain when the user asked for no colour.
func styleFor(w io.Writer, noColor bool) report.Style {
	if noColor {
		return report.Style{}
	}
	return report.StyleFor(w)
}

// withPaths makes s show repository-relative paths relative to the
// folder the command runs in.
func withPaths(s report.Style, root, cwd string) report.Style {
	s.Dir = func(p string) string { return relTo(cwd, filepath.Join(root, p)) }
	return s
}

// isTerminal reports whether progress can redraw one line.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
