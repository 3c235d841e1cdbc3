package geoip

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
)

// ErrNotFound is returned by [Database.Country] for an address that is in
// none of the database's blocks.
var ErrNotFound = errors.New("geoip: address not in the database")

// A Database maps blocks of IP addresses to the countries they are in. It
// is read-only once parsed, and safe for concurrent use.
type Database struct {
	blocks []block
}

// A block is a range of addresses in one country.
type block struct {
	prefix  netip.Prefix
	country string // ISO 3166 code, such as "NL"
}

// ParseDatabase reads a database, one block a line: a CIDR prefix and the
// ISO 3166 code of its country, such as "192.0.2.0/24 NL". Blank lines and
// lines that start with # are skipped.
func ParseDatabase(r io.Reader) (*Database, error) {
	db := &Database{}
	lines := bufio.NewScanner(r)
	for n := 1; lines.Scan(); n++ {
		line := strings.TrimSpace(lines.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return nil, fmt.Errorf("geoip: line %d: %q, want PREFIX COUNTRY", n, line)
		}
		prefix, err := netip.ParsePrefix(fields[0])
		if err != nil {
			return nil, fmt.Errorf("geoip: line %d: %w", n, err)
		}
		db.blocks = append(db.blocks, block{prefix.Masked(), fields[1]})
	}
	if err := lines.Err(); err != nil {
		return nil, fmt.Errorf("geoip: read database: %w", err)
	}
	return db, nil
}

// LoadFile returns a loader for [New] that parses the database in the file
// at path. A real database is a few hundred megabytes: loading it takes
// seconds.
func LoadFile(path string) func() (*Database, error) {
	return func() (*Database, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("geoip: %w", err)
		}
		defer f.Close()
		return ParseDatabase(f)
	}
}

// Country returns the country of the most specific block that holds the
// address ip, such as "NL" for "192.0.2.1". It returns [ErrNotFound] if no
// block holds it.
func (db *Database) Country(ip string) (string, error) {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return "", fmt.Errorf("geoip: %w", err)
	}
	addr = addr.Unmap()
	best := -1
	for i, b := range db.blocks {
		if b.prefix.Contains(addr) && (best < 0 || b.prefix.Bits() > db.blocks[best].prefix.Bits()) {
			best = i
		}
	}
	if best < 0 {
		return "", fmt.Errorf("%w: %s", ErrNotFound, ip)
	}
	return db.blocks[best].country, nil
}
