// Package mailbox queues messages for a consumer.
//
// Tu et al., non-blocking, channel misuse: a send after Close panics
// (send on closed channel).
package mailbox

// A Mailbox holds up to its capacity of messages.
type Mailbox struct {
	ch chan string
}

// New returns a mailbox with room for n messages.
func New(n int) *Mailbox { return &Mailbox{ch: make(chan string, n)} }

// Send queues a message.
func (m *Mailbox) Send(msg string) {
	m.ch <- msg // want "panic"
}

// Close tells the consumer no more messages will come.
func (m *Mailbox) Close() { close(m.ch) }

// Drain returns the queued messages.
func (m *Mailbox) Drain() []string {
	var out []string
	for msg := range m.ch {
		out = append(out, msg)
	}
	return out
}
