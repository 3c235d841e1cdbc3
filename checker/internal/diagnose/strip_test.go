package diagnose

import "testing"

func TestStripComment(t *testing.T) {
	for in, want := range map[string]string{
		"\tb.mu.Lock() // want \"deadlock\"": "b.mu.Lock()",
		`	s := "http://x" // url`:            `s := "http://x"`,
		"\tr := '/' // slash":                "r := '/'",
		"\tq := `a//b`":                      "q := `a//b`",
		`	e := "a\"//" + x // tail`:          `e := "a\"//" + x`,
		"\t// only a comment":                "",
	} {
		if got := stripComment(in); got != want {
			t.Errorf("stripComment(%q) = %q, want %q", in, got, want)
		}
	}
}
