// Package closeclosed closes a channel twice, as if close were Event.set.
package closeclosed

// Stop closes done.
func Stop(done chan struct{}) {
	close(done) // want "panic"
}
