package cli

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/racelab/racelab/checker/internal/catalog"
	"github.com/racelab/racelab/checker/internal/engine"
	"github.com/racelab/racelab/checker/internal/report"
)

// state is what the checker remembers about a learner's clone between
// runs: the last verdict of each lab and how many hints were shown. It
// lives in the user's cache directory, never in the repository.
type state struct {
	Results map[string]savedResult `json:"results"`
	Hints   map[string]int         `json:"hints"`
}

type savedResult struct {
	Status  string    `json:"status"`
	Kind    string    `json:"kind,omitempty"`
	Summary string    `json:"summary"`
	Hash    string    `json:"hash"` // of the lab's editable files when it ran
	When    time.Time `json:"when"`
}

func statePath(cache string) string { return filepath.Join(cache, "state.json") }

func loadState(cache string) state {
	st := state{Results: map[string]savedResult{}, Hints: map[string]int{}}
	data, err := os.ReadFile(statePath(cache))
	if err != nil {
		return st
	}
	if json.Unmarshal(data, &st) != nil {
		return state{Results: map[string]savedResult{}, Hints: map[string]int{}}
	}
	if st.Results == nil {
		st.Results = map[string]savedResult{}
	}
	if st.Hints == nil {
		st.Hints = map[string]int{}
	}
	return st
}

func saveState(cache string, st state) error {
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(statePath(cache), func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// saveResults records the verdicts of a run of the labs (not of solutions).
func saveResults(ws *workspace, outcomes []engine.Outcome) {
	st := loadState(ws.cache)
	for _, o := range outcomes {
		if o.Status == engine.Errored {
			continue
		}
		st.Results[o.Job.Lab.ID] = savedResult{
			Status: string(o.Status), Kind: string(o.Result.Kind()), Summary: report.OneLine(o),
			Hash: labHash(ws.root, ws.cat, o.Job.Lab.ID), When: time.Now(),
		}
	}
	saveState(ws.cache, st)
}

// labHash fingerprints a lab's editable files, so a remembered verdict is
// shown only while the code it was about is unchanged.
func labHash(root string, cat catalog.Catalog, id string) string {
	l, ok := cat.Lookup(id)
	if !ok {
		return ""
	}
	h := sha256.New()
	for _, f := range l.Files {
		data, err := os.ReadFile(filepath.Join(root, l.Dir(), f))
		if err != nil {
			fmt.Fprintf(h, "missing %s\n", f)
			continue
		}
		fmt.Fprintf(h, "%s %d\n", f, len(data))
		h.Write(data)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}
