// Package uploadall uploads files at once.
//
// Tu et al., non-blocking, WaitGroup misuse: Add is called inside the
// goroutine, so Wait can return before any goroutine has been counted,
// and the caller reads the results while they are being written. The
// race shows on every run at GOMAXPROCS=1 (the spawned goroutines cannot
// run before Wait returns); with more Ps an idle one may start a
// goroutine that counts itself first (see README.md). The race detector
// flags an Add racing with Wait only when Wait blocks, so what it reports
// here is the write of a result the caller has already read.
package uploadall

import "sync"

// UploadAll uploads every file at once and returns their URLs.
func UploadAll(files []string, upload func(string) string) []string {
	urls := make([]string, len(files))
	var wg sync.WaitGroup
	for i, f := range files {
		go func() {
			wg.Add(1)
			defer wg.Done()
			urls[i] = upload(f) // want "race"
		}()
	}
	wg.Wait()
	return urls
}
