package cleanpipeline

import (
	"context"
	"testing"
)

func TestAllSquares(t *testing.T) {
	sum := 0
	for v := range Squares(context.Background(), Generate(context.Background(), 4)) {
		sum += v
	}
	if sum != 30 {
		t.Errorf("sum = %d, want 30", sum)
	}
}

func TestCancelStopsEveryStage(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out := Squares(ctx, Generate(ctx, 1000))
	<-out
	cancel()
	for range out {
	}
}

func TestQueue(t *testing.T) {
	q := NewQueue()
	done := make(chan int)
	go func() { done <- q.Get() }()
	q.Put(7)
	if v := <-done; v != 7 {
		t.Errorf("Get = %d, want 7", v)
	}
}
