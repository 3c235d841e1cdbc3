package uploadall

import "testing"

func TestUploadAll(t *testing.T) {
	urls := UploadAll([]string{"a.png", "b.png"}, func(f string) string { return "https://cdn/" + f })
	for _, u := range urls {
		_ = u
	}
}
