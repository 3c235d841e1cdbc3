package class

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/racelab/racelab/checker/internal/catalog"
	"github.com/racelab/racelab/checker/internal/fsutil"
	"github.com/racelab/racelab/checker/internal/grade"
)

// Schemas name the versions of the files this package writes.
const (
	RecordSchema    = "racelab.record/v1"
	GradebookSchema = "racelab.gradebook/v1"
)

// Record is one graded submission, as kept in OUT/submissions: what was
// graded (its content hash, and the Go release and labs as LabKeys names
// them) and its grade.
type Record struct {
	Schema string         `json:"schema"`
	Name   string         `json:"name"`
	Hash   string         `json:"hash"`
	Labs   []string       `json:"labs"`
	Grade  grade.Document `json:"grade"`
}

// fresh says whether r is the grade of content hash for labs.
func (r Record) fresh(hash string, labs []string) bool {
	return r.Schema == RecordSchema && r.Hash == hash && slices.Equal(r.Labs, labs)
}

// Gradebook is a class's grades, or one shard's (schema
// racelab.gradebook/v1):
//
//	{
//	  "schema": "racelab.gradebook/v1",
//	  "class": {"size": 31, "fingerprint": "9f2c…"},   // the whole class, every shard
//	  "shards": [{"k": 1, "n": 4}],                    // what this gradebook covers; every shard once merged
//	  "labs": [{"id": "bank", "max_points": 20}],
//	  "submissions": [{
//	    "name": "alice", "hash": "sha256:…",
//	    "labs": [{"id": "bank", "status": "pass", "points": 20}],
//	    "points": 20, "max_points": 20,
//	    "warnings": ["…"],
//	    "error": "…"                                   // only when it could not be graded at all
//	  }],
//	  "missing": ["carol"]                             // in the covered shards, not graded (yet)
//	}
type Gradebook struct {
	Schema  string      `json:"schema"`
	Class   ClassID     `json:"class"`
	Shards  []Shard     `json:"shards"`
	Labs    []LabColumn `json:"labs"`
	Rows    []Row       `json:"submissions"`
	Missing []string    `json:"missing"`
}

// ClassID names a whole class: its size and Fingerprint.
type ClassID struct {
	Size        int    `json:"size"`
	Fingerprint string `json:"fingerprint"`
}

// LabColumn is a lab graded in the class.
type LabColumn struct {
	ID        string `json:"id"`
	MaxPoints int    `json:"max_points"`
}

// Row is one submission's grades.
type Row struct {
	Name      string   `json:"name"`
	Hash      string   `json:"hash"`
	Labs      []Cell   `json:"labs"`
	Points    int      `json:"points"`
	MaxPoints int      `json:"max_points"`
	Warnings  []string `json:"warnings"`
	Error     string   `json:"error,omitempty"`
}

// Cell is one lab's grade in a row.
type Cell struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Points int    `json:"points"`
	Reason string `json:"reason,omitempty"`
}

func labColumns(labs []catalog.Lab) []LabColumn {
	var cols []LabColumn
	for _, l := range labs {
		cols = append(cols, LabColumn{ID: l.ID, MaxPoints: l.Points})
	}
	return cols
}

func rowOf(r Record) Row {
	d := r.Grade
	row := Row{Name: r.Name, Hash: r.Hash, Points: d.Points, MaxPoints: d.MaxPoints, Warnings: d.Warnings, Error: d.Error, Labs: []Cell{}}
	if row.Warnings == nil {
		row.Warnings = []string{}
	}
	for _, l := range d.Labs {
		c := Cell{ID: l.ID, Status: l.Status, Points: l.Points}
		if l.Status != string(grade.Pass) {
			c.Reason = l.Reason
		}
		row.Labs = append(row.Labs, c)
	}
	return row
}

// WriteJSON writes the gradebook as indented JSON.
func (g Gradebook) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(g)
}

// WriteCSV writes one row per submission: its name, its points in each
// lab, the total and the most it could get, how many warnings it has,
// and why it could not be graded (or which labs could not). A
// submission not graded yet is a row with empty points and "not graded"
// as its error. Text that a spreadsheet would read as a formula gets a
// leading quote.
func (g Gradebook) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	head := []string{"submission"}
	for _, l := range g.Labs {
		head = append(head, l.ID)
	}
	head = append(head, "total", "max", "warnings", "error")
	cw.Write(head)
	maxTotal := 0
	for _, l := range g.Labs {
		maxTotal += l.MaxPoints
	}
	type line struct {
		name string
		rec  []string
	}
	var lines []line
	for _, r := range g.Rows {
		rec := []string{cell(r.Name)}
		var errs []string
		for _, l := range g.Labs {
			i := slices.IndexFunc(r.Labs, func(c Cell) bool { return c.ID == l.ID })
			if i < 0 {
				rec = append(rec, "")
				continue
			}
			rec = append(rec, strconv.Itoa(r.Labs[i].Points))
			if r.Labs[i].Status == string(grade.Error) && r.Error == "" {
				errs = append(errs, l.ID+": "+r.Labs[i].Reason)
			}
		}
		why := r.Error
		if why == "" {
			why = strings.Join(errs, "; ")
		}
		rec = append(rec, strconv.Itoa(r.Points), strconv.Itoa(r.MaxPoints), strconv.Itoa(len(r.Warnings)), cell(why))
		lines = append(lines, line{r.Name, rec})
	}
	for _, m := range g.Missing {
		rec := []string{cell(m)}
		for range g.Labs {
			rec = append(rec, "")
		}
		rec = append(rec, "", strconv.Itoa(maxTotal), "", "not graded")
		lines = append(lines, line{m, rec})
	}
	slices.SortFunc(lines, func(a, b line) int { return strings.Compare(a.name, b.name) })
	for _, l := range lines {
		cw.Write(l.rec)
	}
	cw.Flush()
	return cw.Error()
}

// cell keeps a spreadsheet from reading text as a formula.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// Write writes gradebook.json and gradebook.csv into dir, each
// atomically.
func (g Gradebook) Write(dir string) error {
	if err := fsutil.WriteAtomic(filepath.Join(dir, "gradebook.json"), g.WriteJSON); err != nil {
		return fmt.Errorf("write the gradebook: %w", err)
	}
	if err := fsutil.WriteAtomic(filepath.Join(dir, "gradebook.csv"), g.WriteCSV); err != nil {
		return fmt.Errorf("write the gradebook: %w", err)
	}
	return nil
}

// ReadGradebook reads a gradebook.json, or the one in a folder.
func ReadGradebook(path string) (Gradebook, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "gradebook.json")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Gradebook{}, err
	}
	var g Gradebook
	if err := json.Unmarshal(data, &g); err != nil {
		return Gradebook{}, fmt.Errorf("%s: %w", path, err)
	}
	if g.Schema != GradebookSchema {
		return Gradebook{}, fmt.Errorf("%s is not a gradebook (schema %q, want %q)", path, g.Schema, GradebookSchema)
	}
	return g, nil
}

// Merge combines the gradebooks of a class's shards into one. It refuses
// gradebooks of different classes, labs or shard counts, a shard given
// twice and a submission in two gradebooks. What is missing (a shard
// with no gradebook, a submission not graded) is not an error: the
// merged gradebook lists it, and gaps says it in words, empty when the
// class is complete.
func Merge(books []Gradebook) (merged Gradebook, gaps []string, err error) {
	if len(books) == 0 {
		return Gradebook{}, nil, fmt.Errorf("no gradebooks to merge")
	}
	first := books[0]
	merged = Gradebook{Schema: GradebookSchema, Class: first.Class, Labs: first.Labs, Rows: []Row{}, Missing: []string{}}
	n := 0
	owner := map[string]string{}
	for i, g := range books {
		if g.Class != first.Class {
			return Gradebook{}, nil, fmt.Errorf("gradebook %d is of another class (%d submissions, fingerprint %s; the first: %d, %s): merge the shards of one run", i+1, g.Class.Size, g.Class.Fingerprint, first.Class.Size, first.Class.Fingerprint)
		}
		if !slices.Equal(g.Labs, first.Labs) {
			return Gradebook{}, nil, fmt.Errorf("gradebook %d grades other labs than the first: grade every shard with the same -labs", i+1)
		}
		for _, s := range g.Shards {
			if s.N == 0 {
				s = Shard{K: 1, N: 1}
			}
			if n == 0 {
				n = s.N
			}
			if s.N != n {
				return Gradebook{}, nil, fmt.Errorf("gradebook %d is shard %s, the others are of %d: grade every shard with the same N", i+1, s, n)
			}
			if slices.Contains(merged.Shards, s) {
				return Gradebook{}, nil, fmt.Errorf("shard %s is given twice", s)
			}
			merged.Shards = append(merged.Shards, s)
		}
		where := fmt.Sprintf("gradebook %d (shard %s)", i+1, shardsString(g.Shards))
		for _, name := range append(rowNames(g.Rows), g.Missing...) {
			if prev, ok := owner[name]; ok {
				return Gradebook{}, nil, fmt.Errorf("%s is in %s and in %s: the shards overlap; grade each with its own --shard K/N", name, prev, where)
			}
			owner[name] = where
		}
		merged.Rows = append(merged.Rows, g.Rows...)
		for _, m := range g.Missing {
			merged.Missing = append(merged.Missing, m)
			gaps = append(gaps, fmt.Sprintf("%s was not graded (shard %s)", m, shardsString(g.Shards)))
		}
	}
	slices.SortFunc(merged.Shards, func(a, b Shard) int { return a.K - b.K })
	slices.SortFunc(merged.Rows, func(a, b Row) int { return strings.Compare(a.Name, b.Name) })
	slices.Sort(merged.Missing)
	for k := 1; k <= n; k++ {
		if !slices.Contains(merged.Shards, Shard{K: k, N: n}) {
			gaps = append(gaps, fmt.Sprintf("shard %d/%d has no gradebook", k, n))
		}
	}
	if held := len(owner); held != first.Class.Size && len(merged.Shards) == n {
		gaps = append(gaps, fmt.Sprintf("the shards hold %d submissions; the class has %d", held, first.Class.Size))
	}
	if left := first.Class.Size - len(merged.Rows); left > 0 {
		gaps = append(gaps, fmt.Sprintf("%d of the class's %d submissions have no grade", left, first.Class.Size))
	}
	return merged, gaps, nil
}

func rowNames(rows []Row) []string {
	var names []string
	for _, r := range rows {
		names = append(names, r.Name)
	}
	return names
}

func shardsString(ss []Shard) string {
	var parts []string
	for _, s := range ss {
		parts = append(parts, s.String())
	}
	if len(parts) == 0 {
		return "1/1"
	}
	return strings.Join(parts, ",")
}
