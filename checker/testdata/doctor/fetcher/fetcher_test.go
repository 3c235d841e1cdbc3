package fetcher

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestFetchTimesOut(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	release := make(chan struct{})
	_, err := Fetch(ctx, func() (string, error) {
		<-release // the backend answers after the caller gave up
		return "late", nil
	})
	close(release)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Fetch = %v, want DeadlineExceeded", err)
	}
}
