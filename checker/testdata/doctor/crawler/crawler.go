// Package crawler fetches pages at once.
//
// Tu et al., blocking, Wait: each worker waits on the WaitGroup that its
// own deferred Done has not yet decremented, so every worker waits for
// itself.
package crawler

import "sync"

// Crawl fetches every URL at once. Each fetch waits until all have been
// fetched before it returns, so that results are published together.
func Crawl(urls []string, fetch func(string) int) []int {
	var wg sync.WaitGroup
	sizes := make([]int, len(urls))
	for i, u := range urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sizes[i] = fetch(u)
			wg.Wait() // want "deadlock: WaitGroup never done"
		}()
	}
	wg.Wait()
	return sizes
}
