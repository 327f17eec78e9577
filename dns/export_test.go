package dns

import "time"

// Helpers of the internal tests that the external ones (package dns_test)
// share.

// MustPack is mustPack, for package dns_test.
var MustPack = mustPack

// SetCacheClock makes f's cache tell the time by now; call it before f is
// used.
func SetCacheClock(f *Forwarder, now func() time.Time) {
	if f.cache != nil {
		f.cache.now = now
	}
}
