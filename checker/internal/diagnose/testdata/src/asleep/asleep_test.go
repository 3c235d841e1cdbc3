//racelab:record -race=false -timeout=0

package asleep

import "testing"

func TestRun(t *testing.T) {
	Run()
}
