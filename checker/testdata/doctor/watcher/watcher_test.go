package watcher

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestStartFailsOnBadConfig(t *testing.T) {
	_, err := Start(context.Background(), func() (string, error) {
		return "", errors.New("syntax error")
	}, time.Minute)
	if err == nil {
		t.Fatal("Start accepted a broken configuration")
	}
}
