// Package validator checks records in the background.
//
// Saioc et al., "a send with no return after it": after sending the
// first error the loop goes on, and its next send has no receiver.
package validator

import "fmt"

// A Record is one row to check.
type Record struct {
	Name  string
	Email string
}

// Validate checks one record.
func (r Record) Validate() error {
	if r.Email == "" {
		return fmt.Errorf("%s: no email", r.Name)
	}
	return nil
}

// FirstError returns the first invalid record's error, or nil.
func FirstError(records []Record) error {
	errc := make(chan error)
	go func() {
		for _, r := range records {
			if err := r.Validate(); err != nil {
				errc <- err // want "leak"
			}
		}
		close(errc)
	}()
	return <-errc
}
