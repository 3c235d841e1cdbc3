package ratelimiter

import (
	"testing"
	"time"
)

func TestBurstThenRefill(t *testing.T) {
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	l := New(1, 1, now)
	if !l.Allow(now) {
		t.Fatal("first event refused")
	}
	if l.Allow(now) {
		t.Fatal("second event in the same instant allowed")
	}
	if !l.Allow(now.Add(2 * time.Second)) {
		t.Fatal("event after the refill refused")
	}
}
