// Package kubetest runs a real etcd and kube-apiserver for Go tests.
//
// There is no controller-manager, scheduler or kubelet: objects are stored
// and served exactly as written, nothing reconciles them. Tests therefore
// create EndpointSlices themselves, and a deleted namespace stays Terminating
// forever, so every test takes a fresh namespace from [Cluster.Namespace].
// The API server also rejects loopback addresses in EndpointSlices; use
// 10.0.0.0/8, 192.0.2.0/24 or 2001:db8::/32 as data.
//
// The binaries come from $SLICEDNS_KUBE_BIN (set by `make test`) or else from
// hack/kube/build.sh, which builds them once into a cache. When they are
// missing the tests are skipped, unless CI=true, where that is a failure.
// With -short no cluster is started and the tests that need one are skipped.
//
// One cluster per test package is the intended use:
//
//	var kc *kubetest.Cluster
//
//	func TestMain(m *testing.M) { kubetest.Main(m, &kc) }
//
//	func TestSomething(t *testing.T) {
//		c := kubetest.Require(t, kc)
//		ns := c.Namespace(t)
//		_, err := c.Client.DiscoveryV1().EndpointSlices(ns).Create(...)
//	}
//
// A test that stops the API server must not share its cluster with tests
// running in parallel; it can take a private one from [New].
package kubetest
