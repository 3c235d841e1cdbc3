package sessioncache

import (
	"testing"
	"time"
)

func TestGetLoadsMissingSession(t *testing.T) {
	c := New(func(id string) (Session, error) {
		return Session{User: "ada", Expires: time.Now().Add(time.Hour)}, nil
	})
	s, err := c.Get("s1", time.Now())
	if err != nil || s.User != "ada" {
		t.Fatalf("Get = %+v, %v; want ada's session", s, err)
	}
}
