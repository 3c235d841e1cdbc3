package quota

import (
	"sync"
	"sync/atomic"
	"testing"
)

func takeConcurrently(q *Quota, user string, n int) int64 {
	var ok atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if q.Take(user) {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	return ok.Load()
}

func TestLimitHolds(t *testing.T) {
	t.Parallel()
	q := &Quota{Limit: 3}
	if got := takeConcurrently(q, "ada", 10); got != 3 {
		t.Errorf("%d requests allowed, want 3", got)
	}
}

func TestUsersAreSeparate(t *testing.T) {
	t.Parallel()
	q := &Quota{Limit: 1}
	if takeConcurrently(q, "ada", 2) != 1 || takeConcurrently(q, "bob", 2) != 1 {
		t.Error("one user's requests counted against another")
	}
}
