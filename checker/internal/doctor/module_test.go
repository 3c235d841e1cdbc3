package doctor

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.TrimLeft(text, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNotAModule(t *testing.T) {
	dir := t.TempDir()
	_, err := Run(context.Background(), Options{Dir: dir, CacheDir: t.TempDir()})
	var se *SetupError
	if !errors.As(err, &se) || !strings.Contains(se.Msg, "not inside a Go module") {
		t.Fatalf("err = %v, want a SetupError saying it is not a module", err)
	}
}

// TestForeignModule runs the doctor on a module that is not Racelab's:
// its go.mod says go 1.17 (the runtime must compile at that language
// version), its dependency is vendored and takes a *sync.Mutex (so the
// mutex swap breaks one package's build, which then runs without lock
// checks and says so), and one package does not compile. Nothing of the
// module may change on disk.
func TestForeignModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module's tests")
	}
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"go.mod": `
module example.com/shop

go 1.17

require example.com/guard v0.0.0

replace example.com/guard => ./third_party/guard
`,
		"third_party/guard/go.mod": "module example.com/guard\n\ngo 1.17\n",
		"third_party/guard/guard.go": `
package guard

import "sync"

// Do runs f holding mu.
func Do(mu *sync.Mutex, f func()) { mu.Lock(); defer mu.Unlock(); f() }
`,
		"cart/cart.go": `
package cart

import "sync"

type Cart struct {
	mu    sync.Mutex
	items []string
}

func (c *Cart) Add(s string) { c.mu.Lock(); c.items = append(c.items, s); c.mu.Unlock() }
`,
		"cart/cart_test.go": `
package cart

import (
	"sync"
	"testing"
)

func TestAdd(t *testing.T) {
	var c Cart
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); c.Add("tea") }()
	}
	wg.Wait()
}
`,
		"stock/stock.go": `
package stock

import (
	"sync"

	"example.com/guard"
)

type Stock struct {
	mu sync.Mutex
	n  int
}

func (s *Stock) Take() { guard.Do(&s.mu, func() { s.n-- }) }
`,
		"stock/stock_test.go": `
package stock

import "testing"

func TestTake(t *testing.T) { var s Stock; s.Take() }
`,
		"broken/broken.go":      "package broken\n\nfunc F() int { return undefined }\n",
		"broken/broken_test.go": "package broken\n\nimport \"testing\"\n\nfunc TestF(t *testing.T) { F() }\n",
	})
	vendor := exec.Command("go", "mod", "vendor")
	vendor.Dir = root
	if out, err := vendor.CombinedOutput(); err != nil {
		t.Fatalf("go mod vendor: %v\n%s", err, out)
	}
	before := snapshotTree(t, root)
	rep, err := Run(context.Background(), Options{Dir: root, Deadline: 2 * time.Second, Locks: true, Leaks: true, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Result{}
	for _, p := range rep.Packages {
		got[p.Dir] = p
	}
	if p := got["cart"]; p.Status != Clean || p.Instrumentation != "full" {
		t.Errorf("cart: %s, %s instrumentation, %v; want clean with full instrumentation", p.Status, p.Instrumentation, p.Findings)
	}
	if p := got["stock"]; p.Status != Clean || p.Instrumentation != "no lock checks" || len(p.Notes) == 0 || !strings.Contains(p.Notes[0], "lock checks off") {
		t.Errorf("stock: %s, %q instrumentation, notes %q; want clean without lock checks, saying why", p.Status, p.Instrumentation, p.Notes)
	}
	if p := got["broken"]; p.Status != Findings || len(p.Findings) != 1 || p.Findings[0].Kind != "build error" || p.Findings[0].Location() != "broken/broken.go:3" {
		t.Errorf("broken: %s %v; want a build error at broken/broken.go:3", p.Status, p.Findings)
	}
	if after := snapshotTree(t, root); after != before {
		t.Errorf("the doctor changed the module's files:\nbefore %s\nafter  %s", before, after)
	}
}

// snapshotTree lists every file under root with its size and time.
func snapshotTree(t *testing.T, root string) string {
	var b strings.Builder
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		b.WriteString(p + " " + info.ModTime().String() + " " + info.Mode().String() + "\n")
		return nil
	})
	return b.String()
}
