package pubsub

import "testing"

func TestSubscriberSeesProgress(t *testing.T) {
	var b Broker
	var seen []int
	b.Subscribe(func(string) { seen = append(seen, b.Sent()) })
	b.PublishAll([]string{"a", "b"})
}
