package engine

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/racelab/racelab/checker/internal/runner"
)

// ModulePath is Racelab's module path; FindRoot looks for its go.mod.
const ModulePath = "github.com/racelab/racelab"

// FindRoot returns the Racelab repository that contains dir: the nearest
// ancestor whose go.mod declares Racelab's module and that has a labs/
// folder.
func FindRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		if mp, err := runner.ModulePath(d); err == nil {
			if mp == ModulePath && isDir(filepath.Join(d, "labs")) {
				return d, nil
			}
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	return "", &SetupError{fmt.Sprintf("%s is not inside the Racelab repository: cd into your clone of Racelab (the folder with go.mod, labs/ and checker/) and run `go run ./checker` there", abs)}
}

// CacheDir is where the checker keeps test binaries and state for the
// repository at root: under the user's cache directory, one folder per
// clone.
//
// Progress is not kept here but in the clone itself (see package cli):
// this folder holds only what can be rebuilt, and [PruneCache] bounds it.
func CacheDir(root string) string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "racelab", fmt.Sprintf("%x", hashString(root))[:16])
	cacheRoots.Store(dir, root)
	return dir
}

// cacheRoots remembers the clone of each cache folder handed out.
var cacheRoots sync.Map

func hashString(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// readSources reads the .go files of a package directory, for quoting code
// in findings, as the build saw them: with overlay's replacements (keyed
// by absolute path; "" removes a file).
func readSources(dir string, overlay map[string]string) map[string][]string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	src := map[string][]string{}
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if repl, ok := overlay[path]; ok {
			if repl == "" {
				continue
			}
			path = repl
		}
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		src[e.Name()] = strings.Split(string(data), "\n")
	}
	// Files the overlay adds to the package.
	for name, repl := range overlay {
		if filepath.Dir(name) != dir || repl == "" || src[filepath.Base(name)] != nil || !strings.HasSuffix(name, ".go") {
			continue
		}
		if data, err := os.ReadFile(repl); err == nil {
			src[filepath.Base(name)] = strings.Split(string(data), "\n")
		}
	}
	return src
}
