// Package geocoder turns street addresses into map coordinates in batches:
// a [Geocoder] sends the addresses of a batch to a geocoding [Service],
// several at a time, and returns the points in the order of the addresses.
package geocoder

import (
	"context"
	"fmt"
	"sync"
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
	type result struct {
		i     int
		point Point
		err   error
	}
	jobs := make(chan int)
	results := make(chan result)

	var wg sync.WaitGroup
	for range g.Workers {
		wg.Go(func() {
			for i := range jobs {
				p, err := g.Service.Lookup(ctx, addrs[i])
				if err != nil {
					err = fmt.Errorf("geocoding %q: %w", addrs[i], err)
				}
				results <- result{i, p, err}
			}
		})
	}
	go func() {
		for i := range addrs {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
		close(results)
	}()

	points := make([]Point, len(addrs))
	var firstErr error
	for r := range results {
		if r.err != nil {
			if firstErr == nil {
				firstErr = r.err
			}
			continue
		}
		points[r.i] = r.point
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return points, nil
}
