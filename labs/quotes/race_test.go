//go:build race

package quotes

// raceDetector says whether the tests run under the race detector
// (go test -race): this lab's bug shows on every run only with it.
const raceDetector = true
