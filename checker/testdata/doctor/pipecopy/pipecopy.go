// Package pipecopy compresses data through an io.Pipe.
//
// Tu et al., blocking, library: the writing end of an io.Pipe is never
// closed, so the reader waits for more data forever.
package pipecopy

import (
	"compress/gzip"
	"io"
)

// Gzip compresses data in a goroutine and returns the compressed bytes.
func Gzip(data []byte) ([]byte, error) {
	pr, pw := io.Pipe()
	go func() {
		zw := gzip.NewWriter(pw)
		zw.Write(data)
		zw.Close()
	}()
	return io.ReadAll(pr) // want "deadlock: blocked in a library call"
}
