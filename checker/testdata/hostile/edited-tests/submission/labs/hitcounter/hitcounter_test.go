package hitcounter

import "testing"

func TestTallyCountsEveryHit(t *testing.T)        {}
func TestTallyEmptyLog(t *testing.T)              {}
func TestTallyReadError(t *testing.T)             {}
func TestTallyMalformedLine(t *testing.T)         {}
func TestTallyReadsShardsInParallel(t *testing.T) {}
