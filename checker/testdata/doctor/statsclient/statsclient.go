// Package statsclient sends metrics to a collector over TCP.
//
// One test needs a collector on the network; where there is none it fails
// as itself, and the doctor still diagnoses the other test: a counter
// that concurrent senders update without synchronization.
package statsclient

import (
	"fmt"
	"net"
	"time"
)

// A Client sends metrics to Addr.
type Client struct {
	Addr string
	sent int
}

// Send sends one metric line.
func (c *Client) Send(metric string) error {
	conn, err := net.DialTimeout("tcp", c.Addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "%s\n", metric)
	return err
}

// Count records that a metric was queued. Senders call it concurrently.
func (c *Client) Count() {
	c.sent++ // want "race"
}
