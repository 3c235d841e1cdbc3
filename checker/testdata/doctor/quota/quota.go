// Package quota limits requests per user. Correct: no findings.
//
// Its tests call t.Parallel at the top level, so the doctor skips their
// leak check (other tests' goroutines run beside them) and says so.
package quota

import "sync"

// A Quota allows each user up to Limit requests.
type Quota struct {
	Limit int
	mu    sync.Mutex // protects used
	used  map[string]int
}

// Take uses one request of user's quota and reports whether there was one.
func (q *Quota) Take(user string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.used == nil {
		q.used = map[string]int{}
	}
	if q.used[user] >= q.Limit {
		return false
	}
	q.used[user]++
	return true
}
