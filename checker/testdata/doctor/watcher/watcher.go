// Package watcher reloads a configuration file when it changes.
//
// Tu et al., channel with context: Start makes a context for its loop
// and returns early on an error without cancelling it, so the loop waits
// for a Done that never comes.
package watcher

import (
	"context"
	"time"
)

// A Watcher polls a configuration source.
type Watcher struct {
	cancel  context.CancelFunc
	changes chan string
	last    string
}

// Start loads the configuration and polls it every interval until Stop.
func Start(parent context.Context, load func() (string, error), interval time.Duration) (*Watcher, error) {
	ctx, cancel := context.WithCancel(parent)
	w := &Watcher{cancel: cancel, changes: make(chan string, 1)}
	first, err := load()
	go w.loop(ctx, load, interval)
	if err != nil {
		return nil, err
	}
	w.last = first
	return w, nil
}

// Stop ends the polling.
func (w *Watcher) Stop() { w.cancel() }

func (w *Watcher) loop(ctx context.Context, load func() (string, error), interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	last := ""
	for {
		select { // want "leak"
		case <-ctx.Done():
			return
		case <-t.C:
			if v, err := load(); err == nil && v != last {
				last = v
				w.changes <- v
			}
		}
	}
}
