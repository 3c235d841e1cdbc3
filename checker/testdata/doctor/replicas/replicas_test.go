package replicas

import "testing"

type echo string

func (e echo) Ask(q string) string { return string(e) + ":" + q }

func TestQuery(t *testing.T) {
	if got := Query([]Replica{echo("a"), echo("b"), echo("c")}, "x"); got == "" {
		t.Error("no answer")
	}
}
