// Package mailer sends a newsletter over several SMTP sessions at once
// ([Mailer]).
package mailer

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// A Message is one email.
type Message struct {
	Subject string
	Body    string
}

// A Session is one SMTP session with the mail server. It is not safe for
// concurrent use: one goroutine at a time may use it.
type Session interface {
	// Send hands msg to the server for one recipient. It returns ctx's
	// error soon after ctx is done.
	Send(ctx context.Context, to string, msg Message) error
	// Close ends the session politely: it says QUIT, waits for the
	// server's goodbye and hangs up, which takes a round trip. Every
	// session opened must be closed once, even after Send failed.
	Close() error
}

// A Mailer sends messages over several sessions at once.
type Mailer struct {
	// Dial opens a session with the mail server. It returns ctx's error
	// if ctx is done.
	Dial func(ctx context.Context) (Session, error)
	// Sessions is how many sessions to use at once, at least 1.
	Sessions int
}

// Send sends msg to every recipient in to. It deals the recipients out to
// m.Sessions sessions (fewer when there are fewer recipients), opens the
// sessions one after another, and sends over all of them at the same time,
// one goroutine per session.
//
// Send returns once every message has been handed to the server and every
// session it opened has been closed. A recipient the server refuses does
// not stop the others: Send returns an error that joins every failure,
// each naming its recipient. The recipients of a session that cannot be
// opened fail with Dial's error. If ctx is done, the sends not yet made
// fail with ctx's error. Close's error is ignored: by then every message
// of the session has been accepted.
func (m *Mailer) Send(ctx context.Context, msg Message, to []string) error {
	errs := make([]error, len(to)) // errs[i] is written by the goroutine sending to to[i] only

	var wg sync.WaitGroup
	for _, batch := range deal(len(to), m.Sessions) {
		s, err := m.Dial(ctx)
		if err != nil {
			for _, i := range batch {
				errs[i] = fmt.Errorf("%s: %w", to[i], err)
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer func() {
				s.Close()
				wg.Done()
			}()
			defer wg.Done()
			for _, i := range batch {
				if err := s.Send(ctx, to[i], msg); err != nil {
					errs[i] = fmt.Errorf("%s: %w", to[i], err)
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// deal deals the indices of n recipients out to at most k batches, like
// cards: recipient i goes to batch i%k. No batch is empty.
func deal(n, k int) [][]int {
	batches := make([][]int, min(n, max(k, 1)))
	for i := range n {
		batches[i%len(batches)] = append(batches[i%len(batches)], i)
	}
	return batches
}
