package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/racelab/racelab/checker/internal/catalog"
	"github.com/racelab/racelab/checker/internal/report"
)

// --- room: a facilitator's view of the learners' progress ---------------------

type roomOptions struct {
	json    bool
	noColor bool
	stuck   float64
}

func (o *roomOptions) flags() *flag.FlagSet {
	fs := flag.NewFlagSet("room", flag.ContinueOnError)
	fs.BoolVar(&o.json, "json", false, "print the room as JSON")
	fs.BoolVar(&o.noColor, "no-color", false, "never use colour (also: NO_COLOR=1)")
	fs.Float64Var(&o.stuck, "stuck", 1.5, "flag a learner as stuck after this many times the lab's estimated minutes on it")
	return fs
}

// Validate checks the options' values.
func (o *roomOptions) Validate() error {
	if o.stuck <= 0 {
		return usagef("-stuck must be positive")
	}
	return nil
}

// A seat is one learner's progress as the room sees it.
type seat struct {
	Learner string    `json:"learner"`
	Source  string    `json:"source"`
	Done    int       `json:"done"`
	Total   int       `json:"total"`
	Lab     string    `json:"lab,omitempty"`     // the lab they are on
	Since   time.Time `json:"since,omitempty"`   // when they started it
	Verdict string    `json:"verdict,omitempty"` // its last verdict
	Hints   int       `json:"hints"`             // hints seen on it
	Stuck   bool      `json:"stuck"`
	Updated time.Time `json:"updated,omitempty"` // the last verdict of any lab
	Error   string    `json:"error,omitempty"`
}

// runRoom reads learners' progress files, never their code: each PATH is
// a learner's clone, a folder of clones, or a progress file they shared.
func runRoom(_ context.Context, env Env, args []string) error {
	o := &roomOptions{}
	pos, err := parse(o.flags(), args)
	if err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("name the learners' clones, a folder holding them, or their shared %s files", ProgressFile)
	}
	var sources []string
	for _, p := range pos {
		abs := p
		if !filepath.IsAbs(p) {
			abs = filepath.Join(env.Dir, p)
		}
		found, err := progressFiles(abs)
		if err != nil {
			return usagef("%v", err)
		}
		sources = append(sources, found...)
	}
	now := time.Now()
	var seats []seat
	for _, src := range sources {
		seats = append(seats, readSeat(src, env.Catalog, now, o.stuck))
	}
	slices.SortStableFunc(seats, func(a, b seat) int {
		if a.Stuck != b.Stuck {
			if a.Stuck {
				return -1
			}
			return 1
		}
		return a.Done - b.Done
	})
	if o.json {
		return report.JSON(env.Stdout, seats)
	}
	s := styleFor(env.Stdout, o.noColor)
	w := env.Stdout
	lw := len("LEARNER")
	for _, st := range seats {
		lw = max(lw, len(st.Learner))
	}
	fmt.Fprintf(w, "%s\n", s.Bold(fmt.Sprintf("%-*s  %-6s  %-12s  %-7s  %-20s  %s", lw, "LEARNER", "DONE", "ON LAB", "FOR", "LAST VERDICT", "HINTS")))
	stuck := 0
	for _, st := range seats {
		if st.Error != "" {
			fmt.Fprintf(w, "%-*s  %s\n", lw, report.Sanitize(st.Learner), s.Yellow("cannot read: "+report.Sanitize(st.Error)))
			continue
		}
		on, dur := st.Lab, ""
		if on == "" {
			on = "all done"
		}
		if !st.Since.IsZero() {
			dur = now.Sub(st.Since).Round(time.Minute).String()
			dur = strings.TrimSuffix(dur, "0s")
		}
		line := fmt.Sprintf("%-*s  %-6s  %-12s  %-7s  %-20s  %d", lw, report.Sanitize(st.Learner), fmt.Sprintf("%d/%d", st.Done, st.Total), on, dur, st.Verdict, st.Hints)
		if st.Stuck {
			stuck++
			line = s.Red(line + "  ← stuck")
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "\n%d learners, %d stuck (on one lab for more than %.1f× its estimated time).\n", len(seats), stuck, o.stuck)
	return nil
}

// progressFiles finds the progress files at path: the file itself, the
// one in a clone, or those of the clones in a folder.
func progressFiles(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%s does not exist", path)
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	if _, err := os.Stat(filepath.Join(path, ProgressFile)); err == nil {
		return []string{filepath.Join(path, ProgressFile)}, nil
	}
	var out []string
	ents, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		p := filepath.Join(path, e.Name())
		switch {
		case e.IsDir():
			if _, err := os.Stat(filepath.Join(p, ProgressFile)); err == nil {
				out = append(out, filepath.Join(p, ProgressFile))
			}
		case strings.HasSuffix(e.Name(), ".json"):
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no %s, neither itself nor in a folder under it", path, ProgressFile)
	}
	return out, nil
}

// readSeat reads one learner's progress file. A learner is named after
// their clone's folder, or the shared file's name.
func readSeat(src string, cat catalog.Catalog, now time.Time, stuckAfter float64) seat {
	name := strings.TrimSuffix(filepath.Base(src), ".json")
	if filepath.Base(src) == ProgressFile {
		name = filepath.Base(filepath.Dir(src))
	}
	st := seat{Learner: name, Source: src, Total: len(cat)}
	data, err := os.ReadFile(src)
	if err != nil {
		st.Error = err.Error()
		return st
	}
	var probe map[string]json.RawMessage
	if json.Unmarshal(data, &probe) != nil || probe["results"] == nil {
		st.Error = "not a Racelab progress file"
		return st
	}
	p := parseProgress(data)
	for _, l := range cat {
		r, ok := p.Results[l.ID]
		if r.When.After(st.Updated) {
			st.Updated = r.When
		}
		if ok && r.Status == "fixed" {
			st.Done++
			continue
		}
		if st.Lab == "" {
			st.Lab = l.ID
			if ok {
				st.Verdict = r.Status
				if r.Kind != "" {
					st.Verdict += ": " + r.Kind
				}
			}
			st.Hints = p.Hints[l.ID]
			st.Since = p.Started[l.ID]
			if st.Since.IsZero() {
				st.Since = latest(p.Done)
			}
			if !st.Since.IsZero() && l.Minutes > 0 {
				st.Stuck = now.Sub(st.Since) > time.Duration(stuckAfter*float64(l.Minutes))*time.Minute
			}
		}
	}
	return st
}

func latest(ts map[string]time.Time) time.Time {
	var out time.Time
	for _, t := range ts {
		if t.After(out) {
			out = t
		}
	}
	return out
}
