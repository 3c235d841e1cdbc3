package cli

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/racelab/racelab/checker/internal/catalog"
	"github.com/racelab/racelab/checker/internal/engine"
	"github.com/racelab/racelab/checker/internal/fsutil"
	"github.com/racelab/racelab/checker/internal/report"
)

// ProgressFile is where a learner's progress is kept, at the root of their
// clone (and ignored by git): it moves and is deleted with the clone.
const ProgressFile = ".racelab-progress.json"

// progress is what the checker remembers about a learner's clone: the lab
// they are on, the labs they have done and when, each lab's last verdict,
// and how many hints they have seen.
type progress struct {
	Version int                    `json:"version"`
	Current string                 `json:"current,omitempty"` // the lab watch is on
	Started map[string]time.Time   `json:"started"`           // when each lab was first run
	Done    map[string]time.Time   `json:"done"`              // when each lab first passed
	Results map[string]savedResult `json:"results"`           // each lab's last verdict
	Hints   map[string]int         `json:"hints"`             // hints shown per lab
}

type savedResult struct {
	Status  string    `json:"status"`
	Kind    string    `json:"kind,omitempty"`
	Summary string    `json:"summary"`
	Hash    string    `json:"hash"` // of the lab's editable files when it ran
	When    time.Time `json:"when"`
}

func emptyProgress() progress {
	return progress{Version: 1, Started: map[string]time.Time{}, Done: map[string]time.Time{}, Results: map[string]savedResult{}, Hints: map[string]int{}}
}

func progressPath(root string) string { return filepath.Join(root, ProgressFile) }

// loadProgress reads the progress file; a missing or unreadable one is a
// fresh start, never an error.
func loadProgress(root string) progress {
	data, err := os.ReadFile(progressPath(root))
	if err != nil {
		return emptyProgress()
	}
	return parseProgress(data)
}

// parseProgress reads a progress file's contents; what cannot be read is
// a fresh start.
func parseProgress(data []byte) progress {
	p := emptyProgress()
	if json.Unmarshal(data, &p) != nil {
		return emptyProgress()
	}
	if p.Done == nil {
		p.Done = map[string]time.Time{}
	}
	if p.Started == nil {
		p.Started = map[string]time.Time{}
	}
	if p.Results == nil {
		p.Results = map[string]savedResult{}
	}
	if p.Hints == nil {
		p.Hints = map[string]int{}
	}
	return p
}

// updateProgress applies change to the progress file under a lock, so a
// watch and a run in two terminals do not lose each other's updates, and
// replaces the file atomically.
func updateProgress(root string, change func(*progress)) error {
	lock, err := os.OpenFile(progressPath(root)+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err == nil {
		defer lock.Close()
		if syscall.Flock(int(lock.Fd()), syscall.LOCK_EX) == nil {
			defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
		}
	}
	p := loadProgress(root)
	change(&p)
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteAtomic(progressPath(root), func(w io.Writer) error {
		_, err := w.Write(append(data, '\n'))
		return err
	})
}

// saveResults records the verdicts of a run of the labs (never of
// solutions, and never a verdict the checker could not reach: an error is
// the checker's or the machine's, not the learner's).
func saveResults(ws *workspace, outcomes []engine.Outcome) {
	updateProgress(ws.root, func(p *progress) {
		for _, o := range outcomes {
			if o.Status == engine.Errored {
				continue
			}
			id := o.Job.Lab.ID
			if _, ok := p.Started[id]; !ok {
				p.Started[id] = time.Now().UTC().Truncate(time.Second)
			}
			p.Results[id] = savedResult{
				Status: string(o.Status), Kind: string(o.Result.Kind()), Summary: report.OneLine(o),
				Hash: labHash(ws.root, ws.cat, id), When: time.Now().UTC().Truncate(time.Second),
			}
			if _, done := p.Done[id]; o.Status == engine.Fixed && !done {
				p.Done[id] = time.Now().UTC().Truncate(time.Second)
			}
		}
	})
}

// isDone reports whether the lab passed its last check and has not been
// edited since.
func (p progress) isDone(root string, cat catalog.Catalog, id string) bool {
	r, ok := p.Results[id]
	return ok && r.Status == string(engine.Fixed) && r.Hash == labHash(root, cat, id)
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
