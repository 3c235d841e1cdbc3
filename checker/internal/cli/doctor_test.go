package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDoctorUsage(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"doctor", "-gomaxprocs", "1,x"}, ExitUsage, "-gomaxprocs takes positive numbers"},
		{[]string{"doctor", "-deadline", "1ms"}, ExitUsage, "-deadline must be at least"},
		{[]string{"doctor", "-timeout", "2s", "-deadline", "5s"}, ExitUsage, "must be longer than -deadline"},
		{[]string{"doctor", "-json", "-v"}, ExitUsage, "do not go together"},
		{[]string{"doctor"}, ExitError, "not inside a Go module"},
		{[]string{"help", "doctor"}, ExitPass, ""},
	} {
		code, stdout, stderr := run(t, dir, c.args...)
		if code != c.code || !strings.Contains(stderr, c.says) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d saying %q", strings.Join(c.args, " "), code, stderr, c.code, c.says)
		}
		if c.args[0] == "help" && !strings.Contains(stdout, "-sarif") {
			t.Errorf("help doctor does not list -sarif:\n%s", stdout)
		}
	}
}

// TestDoctorCI runs the doctor as a CI job would, outside Racelab's
// repository: JSON on stdout, SARIF to a file, annotations for GitHub
// Actions, and the exit code deciding the job.
func TestDoctorCI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module's tests")
	}
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":              "module example.com/ci\n\ngo 1.26\n",
		"hits/hits.go":        "package hits\n\ntype Counter struct{ n int }\n\nfunc (c *Counter) Hit() { c.n++ }\n",
		"hits/hits_test.go":   "package hits\n\nimport (\n\t\"sync\"\n\t\"testing\"\n)\n\nfunc TestHit(t *testing.T) {\n\tvar c Counter\n\tvar wg sync.WaitGroup\n\tfor i := 0; i < 4; i++ {\n\t\twg.Add(1)\n\t\tgo func() { defer wg.Done(); c.Hit() }()\n\t}\n\twg.Wait()\n}\n",
		"clean/clean.go":      "package clean\n\nfunc Add(a, b int) int { return a + b }\n",
		"clean/clean_test.go": "package clean\n\nimport \"testing\"\n\nfunc TestAdd(t *testing.T) {\n\tif Add(1, 2) != 3 {\n\t\tt.Fatal(\"1+2\")\n\t}\n}\n",
	}
	for name, text := range files {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755)
		os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644)
	}
	t.Setenv("GITHUB_ACTIONS", "true")
	sarif := filepath.Join(t.TempDir(), "doctor.sarif")
	code, stdout, stderr := run(t, dir, "doctor", "-json", "-sarif", sarif, "./...")
	if code != ExitFail {
		t.Fatalf("exit %d, want 1 (a race):\n%s", code, stderr)
	}
	var doc struct {
		Schema   string
		Packages []struct {
			Package, Status string
			Findings        []struct{ Kind, File string }
		}
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("stdout is not the JSON document: %v\n%s", err, stdout)
	}
	if doc.Schema != "racelab.doctor/v1" || len(doc.Packages) != 2 {
		t.Fatalf("document %+v", doc)
	}
	if !strings.Contains(stderr, "::error file=hits/hits.go,line=5,title=race%3A data race::") {
		t.Errorf("no annotation for the race on stderr (stdout holds the JSON):\n%s", stderr)
	}
	if data, err := os.ReadFile(sarif); err != nil || !strings.Contains(string(data), `"uri": "hits/hits.go"`) {
		t.Errorf("SARIF file: %v\n%s", err, data)
	}
	if code, _, stderr := run(t, dir, "doctor", "./clean"); code != ExitPass {
		t.Errorf("a clean package: exit %d, want 0:\n%s", code, stderr)
	}
}
