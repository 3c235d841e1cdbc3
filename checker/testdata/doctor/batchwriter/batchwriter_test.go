package batchwriter

import (
	"errors"
	"testing"
)

func TestWriteAllReportsErrors(t *testing.T) {
	errs := WriteAll([]string{"bad"}, func(string) error { return errors.New("disk full") })
	if len(errs) != 1 {
		t.Errorf("%d errors, want 1", len(errs))
	}
}
