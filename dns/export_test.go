package dns

// Helpers of the internal tests that the external ones (package dns_test)
// share.

// MustPack is mustPack, for package dns_test.
var MustPack = mustPack
