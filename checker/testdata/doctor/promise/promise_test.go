package promise

import "testing"

func TestGet(t *testing.T) {
	f := Go(func() (string, error) { return "42", nil })
	v, err := f.Get()
	_, _ = v, err
}
