package snapshotter

import (
	"testing"
	"time"
)

// slowWriter is a disk that takes 200ms per write.
type slowWriter struct{}

func (slowWriter) Write(p []byte) (int, error) {
	time.Sleep(200 * time.Millisecond)
	return len(p), nil
}

func TestSaveTimesOut(t *testing.T) {
	s := &Snapshotter{W: slowWriter{}, Timeout: time.Millisecond}
	_, err := s.Save([]byte("state"))
	if err != ErrTimeout {
		t.Errorf("Save = %v, want ErrTimeout", err)
	}
}
