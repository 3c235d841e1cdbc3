// Package importer parses files at once.
//
// Chabbi and Ramanathan, a captured err: every goroutine assigns the
// function's err variable.
package importer

import "sync"

// ImportAll parses every file at once and returns an error if any failed.
func ImportAll(files []string, parse func(string) error) error {
	var err error
	var wg sync.WaitGroup
	for _, f := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if e := parse(f); e != nil {
				err = e // want "race"
			}
		}()
	}
	wg.Wait()
	return err
}
