package validator

import "testing"

func TestFirstError(t *testing.T) {
	err := FirstError([]Record{{"ada", ""}, {"bob", "bob@example.com"}, {"cy", ""}})
	if err == nil || err.Error() != "ada: no email" {
		t.Errorf("FirstError = %v, want ada's error", err)
	}
}
