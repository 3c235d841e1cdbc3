// Package sampler decides which traces to keep.
//
// Tu et al., non-blocking, library: a *rand.Rand from rand.New is not
// safe for concurrent use (the package-level functions are).
package sampler

import "math/rand"

// A Sampler keeps a fraction of traces.
type Sampler struct {
	rng  *rand.Rand
	rate float64
}

// New returns a sampler keeping rate of the traces.
func New(seed int64, rate float64) *Sampler {
	return &Sampler{rng: rand.New(rand.NewSource(seed)), rate: rate}
}

// Keep reports whether to keep a trace. Request handlers call it concurrently.
func (s *Sampler) Keep() bool {
	return s.rng.Float64() < s.rate // want "race"
}
