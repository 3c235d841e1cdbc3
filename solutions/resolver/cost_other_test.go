//go:build !linux && !darwin

package resolver

const haveRSS = false

func residentMemory() int64 { return 0 }

func ownResidentMemory() int64 { return 0 }
