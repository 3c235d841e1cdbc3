package catalog

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestFacilitatorGuide keeps docs/facilitators.md in step with the
// catalog: every lab it names exists, every agenda row gives at least the
// time its labs are estimated to take (a block row of the full day exactly
// that), and each timed agenda's clock adds up row by row.
func TestFacilitatorGuide(t *testing.T) {
	cat := load(t)
	data, err := os.ReadFile(filepath.Join(repo, "docs", "facilitators.md"))
	if err != nil {
		t.Fatal(err)
	}
	ticked := regexp.MustCompile("`([a-z]+)`")
	clock := regexp.MustCompile(`^(\d+):(\d\d)$`)
	var next int // minutes since the start the next timed row should show
	named := 0
	for n, line := range strings.Split(string(data), "\n") {
		where := fmt.Sprintf("docs/facilitators.md:%d", n+1)
		switch {
		case strings.HasPrefix(line, "Optional, for the fast:"):
			for _, m := range ticked.FindAllStringSubmatch(line, -1) {
				if _, ok := cat.Lookup(m[1]); !ok {
					t.Errorf("%s: %q is not a lab", where, m[1])
				}
				named++
			}
			continue
		case !strings.HasPrefix(line, "| "):
			next = 0 // a new table starts its clock at 0:00
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		minutes, err := strconv.Atoi(cells[len(cells)-1])
		if err != nil {
			continue // a header or a separator
		}
		labMinutes := 0
		for _, m := range ticked.FindAllStringSubmatch(strings.Join(cells[:len(cells)-1], " "), -1) {
			l, ok := cat.Lookup(m[1])
			if !ok {
				t.Errorf("%s: %q is not a lab", where, m[1])
				continue
			}
			labMinutes += l.Minutes
			named++
		}
		if labMinutes > minutes {
			t.Errorf("%s: %d minutes for labs estimated at %d in all", where, minutes, labMinutes)
		}
		if c := clock.FindStringSubmatch(cells[0]); c != nil {
			h, _ := strconv.Atoi(c[1])
			m, _ := strconv.Atoi(c[2])
			if at := h*60 + m; at != next {
				t.Errorf("%s: the row starts at %s, want %d:%02d (the rows above add up to that)", where, cells[0], next/60, next%60)
			}
			next += minutes
		} else if labMinutes != minutes {
			t.Errorf("%s: the block row says %d minutes, its labs are estimated at %d", where, minutes, labMinutes)
		}
	}
	if named < 10 {
		t.Errorf("the guide names %d labs; the agendas were not found", named)
	}
}
