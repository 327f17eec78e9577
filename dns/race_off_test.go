//go:build !race

package dns_test

const raceEnabled = false
