//go:build race

package dns_test

// raceEnabled: the race detector allocates on its own.
const raceEnabled = true
