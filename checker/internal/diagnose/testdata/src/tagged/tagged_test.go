package tagged

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWorkersOverlap(t *testing.T) {
	require.Greater(t, Workers(), 1, "serialized: only %d worker ran at a time; they must overlap", Workers()) // want "serialized"
}

func TestProcessesBounded(t *testing.T) {
	if n := Processes(); n > 3 {
		t.Errorf("overspawn: %d processes ran at once; the bound is 3", n) // want "overspawn"
	}
}
