package heartbeat

import (
	"testing"
	"time"
)

func TestNotSeenBeforeFirstPing(t *testing.T) {
	m := New(func() error { return nil })
	m.Start(time.Hour)
	if !m.LastSeen().IsZero() {
		t.Error("seen before the first ping")
	}
}
