// Package geoclient tags requests with a region, detected on first use.
//
// Chabbi and Ramanathan (PLDI'22), check-then-act lazy initialization:
// concurrent first calls all see the field unset and all write it.
package geoclient

// A Client knows the region of its zone.
type Client struct {
	zone   string
	region string // detected on first use
}

// New returns a client for zone.
func New(zone string) *Client { return &Client{zone: zone} }

// Region returns the client's region, detecting it on first use.
func (c *Client) Region() string {
	r := c.region // want "race"
	if r == "" {
		r = detect(c.zone)
		c.region = r // want "race"
	}
	return r
}

func detect(zone string) string {
	switch zone {
	case "fra1", "ams3":
		return "eu"
	case "nyc1", "sfo2":
		return "us"
	}
	return "unknown"
}
