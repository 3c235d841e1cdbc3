//go:build !race

package rt

func raceDisable() {}
func raceEnable()  {}
