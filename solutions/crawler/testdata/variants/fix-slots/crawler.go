// Package crawler crawls the pages of a website in parallel: a [Crawler]
// fetches every page on a list with a pool of workers, through a
// [Fetcher], and returns a [Report] of the links found on them and of the
// pages crawled on each host.
package crawler

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// A Fetcher fetches web pages. Fetch returns the links on the page at url,
// as absolute URLs. It is called from many goroutines at once, and should
// return soon after ctx is done.
type Fetcher interface {
	Fetch(ctx context.Context, url string) (links []string, err error)
}

// A Report is what a crawl found.
type Report struct {
	// Links holds every link on every page crawled, as many times as it
	// appears, in no particular order.
	Links []string
	// Pages counts the pages crawled on each host, such as "go.dev".
	Pages map[string]int
}

// A Crawler fetches pages through Fetcher, Workers pages at a time.
type Crawler struct {
	Fetcher Fetcher
	Workers int // pages fetched at once; Crawl fetches 1 at a time if Workers < 1
}

// Crawl fetches every page in urls, Workers pages at a time, and reports
// the links found on them and the pages crawled on each host. It returns
// once every page has been fetched or has failed.
//
// A page that cannot be fetched is left out of the report, and Crawl then
// also returns an error that names every page that failed and wraps its
// Fetcher's error (ctx's error, once ctx is done).
func (c *Crawler) Crawl(ctx context.Context, urls []string) (Report, error) {
	found := make([][]string, len(urls)) // found[i] is written only by the worker that fetches urls[i]
	ok := make([]bool, len(urls))        // ok[i] likewise
	errs := make([]error, len(urls))     // errs[i] likewise

	jobs := make(chan int)
	var wg sync.WaitGroup
	for range max(c.Workers, 1) {
		wg.Go(func() {
			for i := range jobs {
				links, err := c.Fetcher.Fetch(ctx, urls[i])
				if err != nil {
					errs[i] = fmt.Errorf("crawler: fetch %s: %w", urls[i], err)
					continue
				}
				found[i], ok[i] = links, true
			}
		})
	}
	for i := range urls {
		jobs <- i
	}
	close(jobs)
	wg.Wait()

	report := Report{Pages: make(map[string]int)}
	for i, links := range found {
		if ok[i] {
			report.Links = append(report.Links, links...)
			report.Pages[hostOf(urls[i])]++
		}
	}
	return report, errors.Join(errs...)
}
