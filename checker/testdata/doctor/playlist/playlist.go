// Package playlist keeps an ordered list of songs.
//
// Chabbi and Ramanathan, missing or partial locking: Add locks, Len does
// not.
package playlist

import "sync"

// A Playlist is safe for concurrent Add.
type Playlist struct {
	mu    sync.Mutex // protects songs
	songs []string
}

// Add appends a song.
func (p *Playlist) Add(song string) {
	p.mu.Lock()
	p.songs = append(p.songs, song) // want "race"
	p.mu.Unlock()
}

// Len returns how many songs there are.
func (p *Playlist) Len() int {
	return len(p.songs) // want "race"
}
