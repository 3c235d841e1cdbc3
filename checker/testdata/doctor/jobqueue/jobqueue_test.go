package jobqueue

import (
	"errors"
	"testing"
)

func TestRunAll(t *testing.T) {
	boom := errors.New("boom")
	errs := RunAll([]Job{
		{ID: 0, Run: func() error { return nil }},
		{ID: 1, Run: func() error { return boom }},
	}, 2)
	if errs[0] != nil || errs[1] != boom {
		t.Errorf("RunAll = %v, want [<nil> boom]", errs)
	}
}
