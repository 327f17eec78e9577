package main

// End-to-end against a real kube-apiserver (internal/kubetest): the binary
// watches it with --kubeconfig and dig checks every kind of Service. The
// package has no TestMain, so the test starts its own cluster with
// kubetest.New; it is skipped with -short.

import (
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/slicedns/slicedns/internal/kubetest"
)

// e2eEndpoint is one EndpointSlice endpoint: "[!][hostname=]address", where
// '!' marks it not ready.
func e2eEndpoint(spec string) discoveryv1.Endpoint {
	ready := !strings.HasPrefix(spec, "!")
	spec = strings.TrimPrefix(spec, "!")
	e := discoveryv1.Endpoint{Conditions: discoveryv1.EndpointConditions{Ready: &ready}}
	if host, addr, ok := strings.Cut(spec, "="); ok {
		e.Hostname, spec = &host, addr
	}
	e.Addresses = []string{spec}
	return e
}

func e2eSlice(name, svc string, at discoveryv1.AddressType, port string, portNum int32, eps ...string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			discoveryv1.LabelServiceName: svc,
			// Not the EndpointSlice controller: slices written by hand.
			discoveryv1.LabelManagedBy: "staff.example.com",
		}},
		AddressType: at,
		Ports:       []discoveryv1.EndpointPort{{Name: &port, Protocol: ptr.To(corev1.ProtocolTCP), Port: &portNum}},
	}
	for _, e := range eps {
		s.Endpoints = append(s.Endpoints, e2eEndpoint(e))
	}
	return s
}

func e2eService(name string, spec corev1.ServiceSpec) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
}

func e2eClusterIP(port string, n int32, dual bool) corev1.ServiceSpec {
	s := corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Selector: map[string]string{"app": "x"},
		Ports: []corev1.ServicePort{{Name: port, Port: n, Protocol: corev1.ProtocolTCP}}}
	if dual {
		s.IPFamilyPolicy = ptr.To(corev1.IPFamilyPolicyRequireDualStack)
		s.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
	}
	return s
}

func e2eExternalName(target string) corev1.ServiceSpec {
	return corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: target}
}

// kubeObjects writes the test's objects into its namespace.
type kubeObjects struct {
	t  *testing.T
	ns string
	cs kubernetes.Interface
}

func (k *kubeObjects) service(s *corev1.Service) *corev1.Service {
	k.t.Helper()
	out, err := k.cs.CoreV1().Services(k.ns).Create(k.t.Context(), s, metav1.CreateOptions{})
	if err != nil {
		k.t.Fatalf("create Service %s: %v", s.Name, err)
	}
	return out
}

func (k *kubeObjects) slice(s *discoveryv1.EndpointSlice) {
	k.t.Helper()
	if _, err := k.cs.DiscoveryV1().EndpointSlices(k.ns).Create(k.t.Context(), s, metav1.CreateOptions{}); err != nil {
		k.t.Fatalf("create EndpointSlice %s: %v", s.Name, err)
	}
}

func (k *kubeObjects) deleteService(name string) {
	k.t.Helper()
	if err := k.cs.CoreV1().Services(k.ns).Delete(k.t.Context(), name, metav1.DeleteOptions{}); err != nil {
		k.t.Fatalf("delete Service %s: %v", name, err)
	}
}

func TestDigCluster(t *testing.T) {
	needDig(t)
	c := kubetest.New(t, kubetest.Options{})
	k := &kubeObjects{t: t, ns: c.Namespace(t), cs: c.Client}
	ns := k.ns
	// The upstream knows payments.example.com; everything else is NXDOMAIN,
	// so the reverse names slicedns does not know fall through to it.
	up := upstreamServer(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetRcode(r, mdns.RcodeNameError)
		if q := r.Question[0]; q.Name == "payments.example.com." && q.Qtype == mdns.TypeA {
			rr, _ := mdns.NewRR("payments.example.com. 60 IN A 192.0.2.80")
			m.Rcode, m.Answer = mdns.RcodeSuccess, []mdns.RR{rr}
		}
		w.WriteMsg(m)
	})

	// A slice that arrives before its Service is held unserved.
	k.slice(e2eSlice("orphan-1", "orphan", discoveryv1.AddressTypeIPv4, "http", 8080, "10.1.2.2"))
	web := k.service(e2eService("web", e2eClusterIP("http", 80, false)))
	k.slice(e2eSlice("web-1", "web", discoveryv1.AddressTypeIPv4, "http", 8080, "10.1.0.5", "!10.1.0.6"))
	dual := k.service(e2eService("dual", e2eClusterIP("grpc", 9090, true)))
	k.slice(e2eSlice("dual-v6", "dual", discoveryv1.AddressTypeIPv6, "grpc", 9090, "2001:db8:1::5"))
	lonely := k.service(e2eService("lonely", e2eClusterIP("http", 80, false)))
	k.service(e2eService("ext", e2eExternalName("web."+ns+".svc.cluster.local")))
	k.service(e2eService("ext-out", e2eExternalName("payments.example.com")))
	// Headless without a selector: its slice is written by hand. 10.1.0.5
	// is an endpoint of web too.
	k.service(e2eService("manual", corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone,
		Ports: []corev1.ServicePort{{Name: "db", Port: 5432, Protocol: corev1.ProtocolTCP}}}))
	k.slice(e2eSlice("manual-1", "manual", discoveryv1.AddressTypeIPv4, "db", 5432, "m-0=10.1.1.10", "10.1.0.5"))
	if len(dual.Spec.ClusterIPs) != 2 {
		t.Fatalf("dual-stack Service got ClusterIPs %v", dual.Spec.ClusterIPs)
	}
	webIP, dual4, dual6, lonelyIP := web.Spec.ClusterIP, dual.Spec.ClusterIPs[0], dual.Spec.ClusterIPs[1], lonely.Spec.ClusterIP

	inst := start(t, "--kubeconfig", c.Kubeconfig, "--zone", "cluster.local,cluster.example", "--zone", "in-addr.arpa",
		"--zone", "ip6.arpa", "--upstream", up)
	svc := func(name string) string { return name + "." + ns + ".svc.cluster.local" }
	inst.await(t, 15*time.Second, []digCase{
		{name: "ClusterIP A", args: []string{svc("web"), "A"}, status: "NOERROR", answers: []string{webIP}, flag: "aa"},
		{name: "ClusterIP AAAA is NODATA", args: []string{svc("web"), "AAAA"}, status: "NOERROR", auth: "SOA"},
		{name: "ClusterIP SRV", args: []string{"_http._tcp." + svc("web"), "SRV"}, status: "NOERROR",
			answers: []string{"0 100 80 " + svc("web") + "."}, extra: []string{webIP}},
		{name: "ClusterIP endpoint name", args: []string{"10-1-0-5." + svc("web"), "A"}, status: "NOERROR", answers: []string{"10.1.0.5"}},
		{name: "second zone", args: []string{"_http._tcp.web." + ns + ".svc.cluster.example", "SRV"}, status: "NOERROR",
			answers: []string{"0 100 80 web." + ns + ".svc.cluster.example."}, extra: []string{webIP}},
		{name: "dual-stack A", args: []string{svc("dual"), "A"}, status: "NOERROR", answers: []string{dual4}},
		{name: "dual-stack AAAA", args: []string{svc("dual"), "AAAA"}, status: "NOERROR", answers: []string{dual6}},
		{name: "no endpoints, still the ClusterIP", args: []string{svc("lonely"), "A"}, status: "NOERROR", answers: []string{lonelyIP}},
		{name: "ExternalName chased in the zone", args: []string{svc("ext"), "A"}, status: "NOERROR", answers: []string{webIP, svc("web") + "."}},
		{name: "ExternalName chased upstream", args: []string{svc("ext-out"), "A"}, status: "NOERROR",
			answers: []string{"192.0.2.80", "payments.example.com."}},
		{name: "ExternalName SRV is the CNAME", args: []string{svc("ext-out"), "SRV"}, status: "NOERROR", answers: []string{"payments.example.com."}},
		{name: "no names under an ExternalName", args: []string{"_http._tcp." + svc("ext"), "SRV"}, status: "NXDOMAIN", auth: "SOA"},
		{name: "selector-less headless A", args: []string{svc("manual"), "A"}, status: "NOERROR", answers: []string{"10.1.0.5", "10.1.1.10"}},
		{name: "selector-less headless hostname", args: []string{"m-0." + svc("manual"), "A"}, status: "NOERROR", answers: []string{"10.1.1.10"}},
		{name: "selector-less headless SRV", args: []string{"_db._tcp." + svc("manual"), "SRV"}, status: "NOERROR",
			answers: []string{"0 50 5432 10-1-0-5." + svc("manual") + ".", "0 50 5432 m-0." + svc("manual") + "."}},
		{name: "PTR of an endpoint", args: []string{"-x", "10.1.1.10"}, status: "NOERROR", answers: []string{"m-0." + svc("manual") + "."}},
		{name: "PTR of an address two Services share", args: []string{"-x", "10.1.0.5"}, status: "NOERROR",
			answers: []string{"10-1-0-5." + svc("manual") + ".", "10-1-0-5." + svc("web") + "."}},
		{name: "PTR of a ClusterIP", args: []string{"-x", webIP}, status: "NOERROR", answers: []string{svc("web") + "."}},
		{name: "PTR of an IPv6 ClusterIP", args: []string{"-x", dual6}, status: "NOERROR", answers: []string{svc("dual") + "."}},
		{name: "PTR of an IPv6 endpoint", args: []string{"-x", "2001:db8:1::5"}, status: "NOERROR", answers: []string{"2001-db8-1--5." + svc("dual") + "."}},
		{name: "not-ready address falls through", args: []string{"-x", "10.1.0.6"}, status: "NXDOMAIN"},
		// The slice informer delivered orphan-1 before web-1: it is known, and unserved.
		{name: "slice without its Service", args: []string{svc("orphan"), "A"}, status: "NXDOMAIN", auth: "SOA"},
		{name: "slice without its Service: no PTR", args: []string{"-x", "10.1.2.2"}, status: "NXDOMAIN"},
	})

	// The Service arrives: a ClusterIP one, so its name answers the
	// ClusterIP, never the lingering slice's addresses.
	orphan := k.service(e2eService("orphan", e2eClusterIP("http", 80, false)))
	inst.await(t, 15*time.Second, []digCase{
		{name: "Service arrived", args: []string{svc("orphan"), "A"}, status: "NOERROR", answers: []string{orphan.Spec.ClusterIP}},
		{name: "Service arrived: endpoint PTR", args: []string{"-x", "10.1.2.2"}, status: "NOERROR", answers: []string{"10-1-2-2." + svc("orphan") + "."}},
	})
	k.deleteService("orphan")
	inst.await(t, 15*time.Second, []digCase{
		{name: "Service deleted", args: []string{svc("orphan"), "A"}, status: "NXDOMAIN", auth: "SOA"},
		{name: "Service deleted: no endpoint name", args: []string{"10-1-2-2." + svc("orphan"), "A"}, status: "NXDOMAIN"},
		{name: "Service deleted: no PTR", args: []string{"-x", "10.1.2.2"}, status: "NXDOMAIN"},
		{name: "Service deleted: no ClusterIP PTR", args: []string{"-x", orphan.Spec.ClusterIP}, status: "NXDOMAIN"},
	})
	// Back as an ExternalName: the CNAME, and nothing of the slice.
	k.service(e2eService("orphan", e2eExternalName("web."+ns+".svc.cluster.local")))
	inst.await(t, 15*time.Second, []digCase{
		{name: "ExternalName over a lingering slice", args: []string{svc("orphan"), "A"}, status: "NOERROR", answers: []string{webIP, svc("web") + "."}},
		{name: "ExternalName: no endpoint name", args: []string{"10-1-2-2." + svc("orphan"), "A"}, status: "NXDOMAIN"},
		{name: "ExternalName: no PTR", args: []string{"-x", "10.1.2.2"}, status: "NXDOMAIN"},
	})
	k.deleteService("manual")
	inst.await(t, 15*time.Second, []digCase{
		{name: "headless deleted", args: []string{svc("manual"), "A"}, status: "NXDOMAIN", auth: "SOA"},
		{name: "headless deleted: its PTR goes", args: []string{"-x", "10.1.1.10"}, status: "NXDOMAIN"},
		{name: "headless deleted: the other Service's PTR stays", args: []string{"-x", "10.1.0.5"}, status: "NOERROR",
			answers: []string{"10-1-0-5." + svc("web") + "."}},
	})
}
