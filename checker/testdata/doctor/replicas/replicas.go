// Package replicas asks every replica and takes the fastest answer.
//
// Saioc et al., "N senders, first result only": the slower replicas'
// goroutines wait forever to hand over answers nobody reads.
package replicas

// A Replica answers queries.
type Replica interface {
	Ask(q string) string
}

// Query returns the first answer.
func Query(rs []Replica, q string) string {
	answers := make(chan string)
	for _, r := range rs {
		go func() {
			answers <- r.Ask(q) // want "leak"
		}()
	}
	return <-answers
}
