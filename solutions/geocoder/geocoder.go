// Package geocoder turns street addresses into map coordinates in batches:
// a [Geocoder] sends the addresses of a batch to a geocoding [Service],
// several at a time, and returns the points in the order of the addresses.
package geocoder

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"
)

// A Point is a place on the map, in degrees.
type Point struct {
	Lat, Lon float64
}

// A Service looks up addresses: it is the geocoding provider's API. Lookup
// may take long; it returns soon after ctx is done, with ctx's error.
type Service interface {
	Lookup(ctx context.Context, address string) (Point, error)
}

// A Geocoder geocodes batches of addresses with a Service, like Python's
// ThreadPoolExecutor(max_workers=Workers).map.
type Geocoder struct {
	Service Service
	Workers int // how many lookups may run at once (the provider's plan allows this many); at least 1
}

// Geocode looks up every address, g.Workers at a time, and returns their
// points in the order of addrs: points[i] is the point of addrs[i].
//
// An address that fails does not stop the others: Geocode looks up every
// address, and returns once every lookup it started has returned. If any
// failed, Geocode returns nil and the error of the first failing address in
// the order of addrs, which names that address and wraps the service's
// error. Lookups get ctx: once it is done, they fail with its error.
func (g *Geocoder) Geocode(ctx context.Context, addrs []string) ([]Point, error) {
	// Each result has its place before any lookup starts: points[i] and
	// errs[i] belong to the goroutine that looks up addrs[i], and to
	// nobody else until eg.Wait returns. Wait returns after every such
	// goroutine has returned, which orders their writes before the reads
	// below; the order in which they finish no longer matters.
	points := make([]Point, len(addrs))
	errs := make([]error, len(addrs))

	// eg.Go blocks while g.Workers goroutines are running, so at most that
	// many lookups run at once. Every function returns nil: an address
	// that fails must not cancel or hide the others, and the error to
	// report is the first in the order of addrs, not the first in time,
	// which is what eg.Wait would return.
	var eg errgroup.Group
	eg.SetLimit(g.Workers)
	for i, addr := range addrs {
		eg.Go(func() error {
			p, err := g.Service.Lookup(ctx, addr)
			if err != nil {
				errs[i] = fmt.Errorf("geocoding %q: %w", addr, err)
				return nil
			}
			points[i] = p
			return nil
		})
	}
	eg.Wait() // every goroutine eg started has returned

	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return points, nil
}
