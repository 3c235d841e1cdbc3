// Package reqlog logs requests to a buffer.
//
// Tu et al., non-blocking, library: bytes.Buffer is not safe for
// concurrent use, and handlers write to one at once.
package reqlog

import "bytes"

// A Logger buffers request lines.
type Logger struct {
	buf bytes.Buffer
}

// Log records one line. Handlers call it concurrently.
func (l *Logger) Log(line string) {
	l.buf.WriteString(line + "\n") // want "race"
}

// String returns everything logged.
func (l *Logger) String() string { return l.buf.String() }
