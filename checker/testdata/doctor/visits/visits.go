// Package visits counts page views.
//
// Tu et al., non-blocking, traditional: a counter incremented by
// concurrent handlers without synchronization (n++ is a read and a write).
package visits

// A Tracker counts views.
type Tracker struct {
	views int
}

// Record counts one view. Handlers call it concurrently.
func (t *Tracker) Record() {
	t.views++ // want "race"
}

// Views returns the count.
func (t *Tracker) Views() int { return t.views }
