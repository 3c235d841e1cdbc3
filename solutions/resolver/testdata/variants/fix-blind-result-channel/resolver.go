// Package resolver looks up the mail servers of many domains at once, for
// a mail relay that must know where to deliver each message of a batch:
// [Resolver.ResolveAll] runs one lookup per domain, all at the same time.
package resolver

import (
	"context"
	"fmt"
)

// A Result is what the lookup of one domain found.
type Result struct {
	Domain  string
	Servers []string // the domain's mail servers, most preferred first
	Err     error    // why the lookup failed; nil if it did not
}

// A Resolver looks up the mail servers of domains.
type Resolver struct {
	// Lookup returns the mail servers of one domain. It waits on the
	// network, returns early with ctx.Err() when ctx is done, and is safe
	// for concurrent use by any number of goroutines: it is pure Go and
	// needs no OS thread of its own.
	Lookup func(ctx context.Context, domain string) ([]string, error)
}

// ResolveAll looks up the mail servers of every domain, all at the same
// time (a batch has at most a few hundred domains), and returns one Result
// per domain, in domain order. A lookup that fails sets its Result's Err;
// it does not stop the others.
//
// If ctx is cancelled, the lookups return early and ResolveAll returns an
// error that wraps ctx.Err(). Either way, ResolveAll returns only after
// every lookup it started has returned.
func (r *Resolver) ResolveAll(ctx context.Context, domains []string) ([]Result, error) {
	// One goroutine per lookup, each sending its result, with its index,
	// on a channel with room for all of them: no goroutine ever blocks on
	// the send, and receiving every result means every lookup returned.
	type indexed struct {
		i int
		r Result
	}
	done := make(chan indexed, len(domains))
	for i, domain := range domains {
		go func() {
			servers, err := r.Lookup(ctx, domain)
			done <- indexed{i, Result{Domain: domain, Servers: servers, Err: err}}
		}()
	}
	results := make([]Result, len(domains))
	for range domains {
		d := <-done
		results[d.i] = d.r
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("resolver: %w", err)
	}
	return results, nil
}
