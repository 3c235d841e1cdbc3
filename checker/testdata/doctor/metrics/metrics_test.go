package metrics

import "testing"

func TestSnapshotAndReset(t *testing.T) {
	r := New()
	r.Add("requests", 3)
	if got := r.Snapshot(true)["requests"]; got != 3 {
		t.Errorf("snapshot requests = %d, want 3", got)
	}
	if got := r.Snapshot(false)["requests"]; got != 0 {
		t.Errorf("after reset requests = %d, want 0", got)
	}
}
