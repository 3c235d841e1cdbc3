package doctor

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/racelab/racelab/checker/internal/catalog"
	"github.com/racelab/racelab/checker/internal/diagnose"
	"github.com/racelab/racelab/checker/internal/report"
)

func sampleReport() *Report {
	return &Report{
		Go: "go1.26.8", Module: "example.com/shop", Root: "/src/repo/shop", GitRoot: "/src/repo",
		Options: Options{Deadline: 2 * time.Second, Count: 1, GOMAXPROCS: []int{0}, Locks: true, Leaks: true},
		Packages: []Result{
			{ImportPath: "example.com/shop/cart", Dir: "cart", Status: Findings, Tests: []diagnose.TestResult{{Name: "TestPay", Status: diagnose.Fail}},
				Findings: []diagnose.Finding{
					{Kind: catalog.Deadlock, Title: "lock-order inversion", Test: "TestPay", File: "cart/cart.go", Line: 61, Summary: "locks taken in both orders, 100%: a, b",
						Sites: []diagnose.Site{{Role: "then took lock 1 here", File: "cart/cart.go", Line: 70, InLab: true}, {Role: "in sync", File: "/GOROOT/src/sync/mutex.go", Line: 3}}},
					{Kind: catalog.Timeout, Title: "did not finish by the deadline", Test: "TestPay", Summary: "no line of its own"},
				},
				testFuncs: []testFunc{{Name: "TestPay", File: "/src/repo/shop/cart/cart_test.go", Line: 12}}},
			{ImportPath: "example.com/shop/util", Dir: "util", Status: Clean, Tests: []diagnose.TestResult{{Name: "TestX", Status: diagnose.Pass}}},
			{ImportPath: "example.com/shop/db", Dir: "db", Status: Errored, Err: "fork/exec: out of memory"},
		},
	}
}

// TestSARIFShape checks the fields SARIF 2.1.0 requires and code scanning
// reads: version, runs[].tool.driver.name and rules, and for each result
// ruleId, level, message and a physical location with a URI and a line.
func TestSARIFShape(t *testing.T) {
	var b bytes.Buffer
	if err := SARIF(&b, sampleReport(), "test"); err != nil {
		t.Fatal(err)
	}
	results := validateSARIF(t, b.Bytes())
	if len(results) != 3 {
		t.Fatalf("%d results, want 3 (two findings and the package that could not run)", len(results))
	}
	loc := func(i int) (string, int) {
		pl := results[i].Locations[0].PhysicalLocation
		return pl.ArtifactLocation.URI, pl.Region.StartLine
	}
	if uri, line := loc(0); uri != "shop/cart/cart.go" || line != 61 {
		t.Errorf("first result at %s:%d, want shop/cart/cart.go:61 (relative to the git root)", uri, line)
	}
	if uri, line := loc(1); uri != "shop/cart/cart_test.go" || line != 12 {
		t.Errorf("a finding without a line is at %s:%d, want its test's declaration shop/cart/cart_test.go:12", uri, line)
	}
	if results[0].RuleID != "racelab/deadlock/lock-order-inversion" {
		t.Errorf("ruleId %q", results[0].RuleID)
	}
	if len(results[0].RelatedLocations) != 1 {
		t.Errorf("related locations %+v, want the one site in the module", results[0].RelatedLocations)
	}
}

type sarifResult struct {
	RuleID    string `json:"ruleId"`
	RuleIndex *int   `json:"ruleIndex"`
	Level     string `json:"level"`
	Message   struct {
		Text string `json:"text"`
	} `json:"message"`
	Locations []struct {
		PhysicalLocation struct {
			ArtifactLocation struct {
				URI string `json:"uri"`
			} `json:"artifactLocation"`
			Region struct {
				StartLine int `json:"startLine"`
			} `json:"region"`
		} `json:"physicalLocation"`
	} `json:"locations"`
	RelatedLocations []json.RawMessage `json:"relatedLocations"`
}

// validateSARIF checks a SARIF log's required shape and returns its results.
func validateSARIF(t *testing.T, data []byte) []sarifResult {
	t.Helper()
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID string `json:"id"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []sarifResult `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(data, &log); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || log.Runs[0].Tool.Driver.Name == "" || log.Runs[0].Tool.Driver.Rules == nil {
		t.Fatalf("bad SARIF header: %s", data[:min(len(data), 400)])
	}
	run := log.Runs[0]
	for i, r := range run.Results {
		if r.RuleID == "" || r.Level == "" || r.Message.Text == "" || len(r.Locations) == 0 {
			t.Errorf("result %d lacks ruleId, level, message or locations: %+v", i, r)
			continue
		}
		if r.RuleIndex == nil || *r.RuleIndex >= len(run.Tool.Driver.Rules) || run.Tool.Driver.Rules[*r.RuleIndex].ID != r.RuleID {
			t.Errorf("result %d: ruleIndex does not name rule %s", i, r.RuleID)
		}
		pl := r.Locations[0].PhysicalLocation
		if pl.ArtifactLocation.URI == "" || strings.HasPrefix(pl.ArtifactLocation.URI, "/") || pl.Region.StartLine < 1 {
			t.Errorf("result %d: location %+v, want a relative URI and a line", i, pl)
		}
	}
	return run.Results
}

func TestAnnotations(t *testing.T) {
	var b bytes.Buffer
	Annotations(&b, sampleReport())
	first, _, _ := strings.Cut(b.String(), "\n")
	want := "::error file=shop/cart/cart.go,line=61,title=deadlock%3A lock-order inversion::locks taken in both orders, 100%25: a, b (in TestPay)"
	if first != want {
		t.Errorf("annotation\n%s\nwant\n%s", first, want)
	}
	if n := strings.Count(b.String(), "::error "); n != 3 {
		t.Errorf("%d annotations, want 3:\n%s", n, b.String())
	}
}

func TestDocument(t *testing.T) {
	doc := NewDocument(sampleReport())
	if doc.Schema != "racelab.doctor/v1" || doc.Summary.Findings != 1 || doc.Summary.Clean != 1 || doc.Summary.Errors != 1 {
		t.Errorf("summary %+v", doc.Summary)
	}
	p := doc.Packages[0]
	if p.Kind != "deadlock" || p.Findings[0].Title != "lock-order inversion" || p.Findings[0].File != "cart/cart.go" {
		t.Errorf("package %+v", p)
	}
	if _, err := json.Marshal(doc); err != nil {
		t.Fatal(err)
	}
}

func TestText(t *testing.T) {
	var b bytes.Buffer
	rep := sampleReport()
	rep.Duration = 3 * time.Second
	Text(&b, report.Style{}, rep, false)
	for _, want := range []string{
		"example.com/shop/cart  deadlock, timeout",
		"1. deadlock: lock-order inversion in TestPay",
		"at cart/cart.go:61",
		"example.com/shop/util  clean  1 test",
		"3 packages: 1 with findings (1 deadlock, 1 timeout), 1 clean, 1 could not run; 3s.",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
}
