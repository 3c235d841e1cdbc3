package hitcounter

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// A hitScanner reads the requests in one shard of an access log, one line
// at a time, like a [bufio.Scanner]. Each line is one request, "METHOD PATH
// STATUS", such as "GET /pricing 200"; blank lines are skipped.
//
// A hitScanner is not safe for concurrent use: read each shard from one
// goroutine.
type hitScanner struct {
	lines  *bufio.Scanner
	line   int   // number of the line read last, from 1
	status int   // HTTP status of the request read last
	err    error // the first malformed line, if any
}

// newHitScanner returns a hitScanner that reads the shard r.
func newHitScanner(r io.Reader) *hitScanner {
	return &hitScanner{lines: bufio.NewScanner(r)}
}

// Scan advances to the next request, whose status Status then returns. It
// returns false at the end of the shard, or at the first line it cannot
// read; Err tells which.
func (s *hitScanner) Scan() bool {
	if s.err != nil {
		return false
	}
	for s.lines.Scan() {
		s.line++
		fields := strings.Fields(s.lines.Text())
		if len(fields) == 0 {
			continue
		}
		status := 0
		if len(fields) == 3 && strings.HasPrefix(fields[1], "/") {
			status, _ = strconv.Atoi(fields[2])
		}
		if status < 100 || status > 599 {
			s.err = fmt.Errorf("line %d: malformed request %q, want METHOD PATH STATUS", s.line, s.lines.Text())
			return false
		}
		s.status = status
		return true
	}
	return false
}

// Status returns the HTTP status of the request Scan read last, such as 200.
func (s *hitScanner) Status() int { return s.status }

// Err returns the first error met by Scan: a malformed line or a failed
// read. It returns nil at the end of a well-formed shard.
func (s *hitScanner) Err() error {
	if s.err != nil {
		return s.err
	}
	if err := s.lines.Err(); err != nil {
		return fmt.Errorf("after line %d: %w", s.line, err)
	}
	return nil
}
