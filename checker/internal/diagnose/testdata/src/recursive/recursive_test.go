package recursive

import (
	"bytes"
	"testing"

	"github.com/sasha-s/go-deadlock"
)

func TestSum(t *testing.T) {
	var buf bytes.Buffer
	deadlock.Opts.LogBuf = &buf
	found := false
	deadlock.Opts.OnPotentialDeadlock = func() { found = true }
	c := &Cache{m: map[string]int{"a": 1, "b": 2}}
	c.Sum("a", "b")
	if found {
		t.Error(buf.String())
	}
}
