// Package scraper downloads pages at once.
//
// Chabbi and Ramanathan, slices: goroutines append to one shared slice.
package scraper

import "sync"

// ScrapeAll fetches every URL at once and returns the pages.
func ScrapeAll(urls []string, get func(string) string) []string {
	var pages []string
	var wg sync.WaitGroup
	for _, u := range urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pages = append(pages, get(u)) // want "race"
		}()
	}
	wg.Wait()
	return pages
}
