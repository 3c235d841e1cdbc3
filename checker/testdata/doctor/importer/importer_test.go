package importer

import (
	"errors"
	"testing"
)

func TestImportAllReportsFailure(t *testing.T) {
	bad := errors.New("bad csv")
	err := ImportAll([]string{"a.csv", "b.csv", "c.csv"}, func(string) error { return bad })
	if err != bad {
		t.Errorf("ImportAll = %v, want %v", err, bad)
	}
}
