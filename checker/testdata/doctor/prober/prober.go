//go:build go1.21

// Package prober checks that hosts answer.
//
// Tu et al., anonymous function; Chabbi and Ramanathan, loop index
// capture: in a file at Go 1.21 (the build line above), the loop
// variable is one variable for the whole loop, shared by every goroutine
// the loop starts and written by the loop as it advances.
package prober

import "sync"

// ProbeAll probes every host at once and reports which answered.
func ProbeAll(hosts []string, probe func(string) bool) map[string]bool {
	var mu sync.Mutex // protects up
	up := map[string]bool{}
	var wg sync.WaitGroup
	for _, h := range hosts { // want "race"
		wg.Add(1)
		go func() {
			defer wg.Done()
			host := h // want "race"
			ok := probe(host)
			mu.Lock()
			up[host] = ok
			mu.Unlock()
		}()
	}
	wg.Wait()
	return up
}
