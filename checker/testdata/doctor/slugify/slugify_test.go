package slugify

import (
	"testing"
	"time"
)

// available asks the (fake) URL registry whether slug is free; it takes
// a few milliseconds, as the real one does.
func available(slug string) bool {
	time.Sleep(5 * time.Millisecond)
	return slug != ""
}

func TestSlug(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Hello World", "hello-world"},
		{"  Go  Concurrency ", "go-concurrency"},
		{"Racelab", "racelab"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got := Slug(tc.in)
			if !available(got) {
				t.Errorf("slug %q is taken", got)
			}
			if got != tc.want {
				t.Errorf("Slug(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
