package playlist

import "testing"

func TestLenWhileAdding(t *testing.T) {
	var p Playlist
	done := make(chan bool)
	go func() {
		for i := 0; i < 100; i++ {
			p.Add("song")
		}
		done <- true
	}()
	for i := 0; i < 100; i++ {
		_ = p.Len()
	}
	<-done
	if p.Len() != 100 {
		t.Errorf("Len = %d, want 100", p.Len())
	}
}
