package veterr

import "testing"

func TestLabel(t *testing.T) { Label("x") }
