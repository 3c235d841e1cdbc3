// Package exporter builds the monthly sales report from a data warehouse,
// querying every region at once ([Export]).
package exporter

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// A Sale is one line of a region's sales.
type Sale struct {
	Product string
	Cents   int64
}

// A Warehouse answers queries about sales: it is the company's data
// warehouse. Sales may take long, minutes for a large region, and returns
// ctx's error soon after ctx is done. Queries for different regions may run
// at the same time.
type Warehouse interface {
	Sales(ctx context.Context, region string) ([]Sale, error)
}

// A Section is one region's part of a report.
type Section struct {
	Region string
	Sales  []Sale
	Total  int64 // the sum of Sales, in cents
}

// A Report holds one Section per region, in the order the regions were
// asked for.
type Report struct {
	Sections []Section
}

// Export queries w for every region at once, one goroutine per region, and
// returns the report once every query has ended.
//
// If some queries fail, Export returns no report and an error that joins
// every failure, each naming its region; it still waits for every query
// before it returns. If ctx is done, the queries still running end with
// ctx's error, and so does Export.
func Export(ctx context.Context, w Warehouse, regions []string) (*Report, error) {
	report := &Report{Sections: make([]Section, len(regions))}
	errs := make([]error, len(regions)) // errs[i] and report.Sections[i] are written by region i's goroutine only

	var wg sync.WaitGroup
	wg.Add(len(regions)) // every goroutine is counted before any starts
	for i, region := range regions {
		go func() {
			defer wg.Done()
			sales, err := w.Sales(ctx, region)
			if err != nil {
				errs[i] = fmt.Errorf("region %s: %w", region, err)
				return
			}
			report.Sections[i] = newSection(region, sales)
		}()
	}
	wg.Wait()

	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return report, nil
}

// newSection returns the section of a report for region's sales.
func newSection(region string, sales []Sale) Section {
	s := Section{Region: region, Sales: sales}
	for _, sale := range sales {
		s.Total += sale.Cents
	}
	return s
}
