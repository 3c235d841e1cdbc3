package prober

import "testing"

func TestProbeAll(t *testing.T) {
	up := ProbeAll([]string{"a.example", "b.example", "c.example"}, func(string) bool { return true })
	if len(up) == 0 {
		t.Error("no host probed")
	}
}
