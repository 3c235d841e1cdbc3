package crawler

import "testing"

func TestCrawl(t *testing.T) {
	got := Crawl([]string{"/a", "/bb"}, func(u string) int { return len(u) })
	if got[0] != 2 || got[1] != 3 {
		t.Errorf("Crawl = %v, want [2 3]", got)
	}
}
