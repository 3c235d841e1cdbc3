//go:build race

package rt

import "runtime"

// raceDisable and raceEnable bracket the lock checker's channel operations:
// with the race detector's synchronization handling off in the goroutines
// on both ends, a message to the checker orders nothing in the user's code.
// Memory accesses are still seen, which is why the checker's state is only
// ever touched by its own goroutine.
func raceDisable() { runtime.RaceDisable() }
func raceEnable()  { runtime.RaceEnable() }
