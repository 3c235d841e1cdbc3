package configstore

import "testing"

func TestGetOrFallsBack(t *testing.T) {
	s := New(map[string]string{"region.default": "eu"})
	if got := s.GetOr("region", "region.default"); got != "eu" {
		t.Errorf("GetOr = %q, want eu", got)
	}
	s.Set("region", "us")
	if got := s.GetOr("region", "region.default"); got != "us" {
		t.Errorf("GetOr = %q, want us", got)
	}
}
