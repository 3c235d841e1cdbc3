package crawler

import "net/url"

// hostOf returns the host of the page at rawURL, with its port if the URL
// has one: "go.dev" for "https://go.dev/doc/", "localhost:8080" for
// "http://localhost:8080/". It returns "" for a URL it cannot parse.
func hostOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return u.Host
}
