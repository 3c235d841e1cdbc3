package builderr

import "testing"

func TestTotal(t *testing.T) { Total() }
