// Package quotas decides whether a tenant of a metered API may spend more
// units: a [Checker] looks up the tenant's [Plan] and its usage so far at
// the same time.
package quotas

import (
	"context"
	"errors"
	"fmt"
)

// ErrSuspended is returned by [Checker.Allow] for a tenant whose plan is
// suspended, say for an unpaid bill.
var ErrSuspended = errors.New("quotas: tenant suspended")

// A Plan is what a tenant has paid for.
type Plan struct {
	Limit     int  // units the tenant may use in the current period
	Suspended bool // the tenant may use nothing at all
}

// A PlanStore looks up tenants' plans. Plan may take long; it should return
// soon after ctx is done.
type PlanStore interface {
	Plan(ctx context.Context, tenant string) (Plan, error)
}

// A UsageStore counts the units each tenant has used in the current period.
// Used may take long; it should return soon after ctx is done.
type UsageStore interface {
	Used(ctx context.Context, tenant string) (int, error)
}

// A Checker enforces tenants' quotas.
type Checker struct {
	Plans PlanStore
	Usage UsageStore
}

// usage is the usage store's answer.
type usage struct {
	used int
	err  error
}

// Allow reports whether tenant may spend cost more units now: whether the
// units it has used so far plus cost stay within its plan's limit. It
// looks the plan and the usage up at the same time.
//
// If the plan lookup fails, or the plan is suspended ([ErrSuspended]), or
// the usage lookup fails, Allow returns an error that wraps the reason. If
// ctx is done first, it returns an error that wraps ctx.Err().
func (c *Checker) Allow(ctx context.Context, tenant string, cost int) (bool, error) {
	used := make(chan usage)
	go func() {
		n, err := c.Usage.Used(ctx, tenant)
		used <- usage{n, err}
	}()
	// Every way out receives the answer, if the select below has not: the
	// sender always has its receiver. An early return waits for the usage
	// lookup to end.
	received := false
	defer func() {
		if !received {
			<-used
		}
	}()

	plan, err := c.Plans.Plan(ctx, tenant)
	if err != nil {
		return false, fmt.Errorf("quotas: plan of %s: %w", tenant, err)
	}
	if plan.Suspended {
		return false, ErrSuspended
	}

	select {
	case u := <-used:
		received = true
		if u.err != nil {
			return false, fmt.Errorf("quotas: usage of %s: %w", tenant, u.err)
		}
		return u.used+cost <= plan.Limit, nil
	case <-ctx.Done():
		return false, fmt.Errorf("quotas: %w", ctx.Err())
	}
}
