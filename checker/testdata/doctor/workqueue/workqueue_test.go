package workqueue

import "testing"

func TestPutThenGet(t *testing.T) {
	q := New()
	q.Put("job-1")
	if got := q.Get(); got != "job-1" {
		t.Errorf("Get = %q, want job-1", got)
	}
}
