package scraper

import "testing"

func TestScrapeAll(t *testing.T) {
	pages := ScrapeAll([]string{"/a", "/b", "/c", "/d"}, func(u string) string { return "<html>" + u })
	if len(pages) > 4 {
		t.Errorf("%d pages, want at most 4", len(pages))
	}
}
