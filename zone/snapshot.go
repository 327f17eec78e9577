package zone

import (
	"cmp"
	"iter"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/immutable"
)

// SpecVersion is the Kubernetes DNS-Based Service Discovery schema version
// served at dns-version.<zone> (kubernetes/dns docs/specification.md).
const SpecVersion = "1.1.0"

// A Snapshot is the zone at one instant. It is immutable and safe for any
// number of concurrent readers.
type Snapshot struct {
	services   *immutable.Map[string, *entry]
	namespaces *immutable.Map[string, int]
	// reverse holds the PTR targets of every address, filed by ptrKey in
	// buckets of 256 neighbouring addresses (a /24 in IPv4): a node's pods
	// share its pod CIDR, and one map entry for a run of addresses costs a
	// fraction of one each. A bucket is copied when an address in it
	// changes: 256 addresses at most (times the Services that share one),
	// whatever the size of the cluster.
	reverse *immutable.Map[[16]byte, *ptrBucket]

	// dirty are the keys written since Hold, on the pending snapshot only;
	// build, when set, holds its services in place of the map until Release,
	// and buildNamespaces the namespaces' counts.
	dirty           map[string]struct{}
	build           *immutable.MapBuilder[string, *entry]
	buildNamespaces map[string]int

	serviceCount int
	readyCount   int
	modified     time.Time
	serial       uint32
	// seen is serialOpen, serialSeen or serialReused (serial.go). It is
	// the one part of a published snapshot that changes, so it is kept
	// apart: writers copy a snapshot to start the next one.
	seen *atomic.Uint32
	// stored is when the snapshot was published, with the monotonic
	// clock: a second after it, its serial can go out (serial.go).
	stored time.Time
}

// Lookup finds name, given relative to the zone apex, in lower case and
// without a trailing dot ("" is the apex itself; "my-db-0.my-db.default.svc"
// a per-endpoint name). It returns the node and true when the name exists;
// the node may hold no records of the wanted type (NODATA) or none at all (an
// empty non-terminal such as "default.svc"). It returns the zero Node and
// false when the name does not exist (NXDOMAIN), or is not a name (an empty
// label). Lookup does not allocate.
func (s *Snapshot) Lookup(name string) (Node, bool) {
	switch name {
	case "":
		return Node{v: apexView}, true
	case "dns-version":
		return Node{v: versionView}, true
	case "svc":
		return ent(s.namespaces.Len() > 0)
	}
	rest, ok := strings.CutSuffix(name, ".svc")
	if !ok {
		return Node{}, false
	}
	// rest is "[prefix.]<svc>.<ns>"; the Service key is its last two labels.
	dot := strings.LastIndexByte(rest, '.')
	if dot < 0 {
		_, ok := s.namespaces.Get(rest)
		return ent(ok)
	}
	keyStart := strings.LastIndexByte(rest[:dot], '.') + 1
	e, ok := s.services.Get(rest[keyStart:])
	if !ok {
		return Node{}, false
	}
	prefix := ""
	if keyStart > 0 {
		if keyStart == 1 {
			return Node{}, false // ".<svc>.<ns>.svc": an empty label
		}
		prefix = rest[:keyStart-1]
	}
	return e.view.lookup(prefix)
}

// ent is the empty non-terminal when it exists, keeping Lookup's promise of
// the zero node for a name that does not.
func ent(exists bool) (Node, bool) {
	if !exists {
		return Node{}, false
	}
	return Node{v: entView}, true
}

// LookupAddr returns the names that point back from ip (PTR targets): the
// endpoint name of every Service the address is a ready endpoint of, and the
// Service name of every Service the address is a ClusterIP of, in name order.
// Unlike Lookup it allocates (the result): PTR queries are the rare ones.
func (s *Snapshot) LookupAddr(ip netip.Addr) []Node {
	key, low := ptrKey(ip.Unmap())
	b, _ := s.reverse.Get(key)
	if b == nil {
		return nil
	}
	i, _ := slices.BinarySearchFunc(b.ents, low, func(e ptrEnt, low uint8) int { return cmp.Compare(e.low, low) })
	var out []Node
	for ; i < len(b.ents) && b.ents[i].low == low; i++ {
		out = append(out, b.node(b.ents[i]))
	}
	return out
}

// A ptrBucket holds the PTR targets of the addresses whose ptrKey is its
// key, sorted by address and then by name. Each entry names its node by
// index, among the few views the bucket refers to: 12 bytes a target rather
// than a 16-byte Node and its address byte.
type ptrBucket struct {
	views []*view
	ents  []ptrEnt
}

// ptrEnt is one PTR target: node in views[view], for the address whose
// last byte is low.
type ptrEnt struct {
	node uint32
	view uint32
	low  uint8
}

func (b *ptrBucket) node(e ptrEnt) Node { return Node{v: b.views[e.view], i: e.node} }

// ptrKey returns ip's bucket in the reverse index (its 16-byte form with the
// last byte cleared) and that byte.
func ptrKey(ip netip.Addr) (key [16]byte, low uint8) {
	key = ip.As16()
	low = key[15]
	key[15] = 0
	return key, low
}

// Modified is when the snapshot was published.
func (s *Snapshot) Modified() time.Time { return s.modified }

// Stats are the zone's size, for metrics.
type Stats struct {
	Services       int // Services that are served
	ReadyEndpoints int // ready endpoint addresses, after de-duplication
}

// Stats returns the zone's size.
func (s *Snapshot) Stats() Stats {
	return Stats{Services: s.serviceCount, ReadyEndpoints: s.readyCount}
}

// All yields every name in the snapshot that holds records: dns-version,
// then each Service's names (its own, its endpoints', its SRV names), one
// Service after another in no particular order. Empty non-terminals and the
// apex, whose records the server makes, are left out. It is for handing
// over the whole zone (a zone transfer); like every read of a snapshot it
// sees one instant, however long the walk takes.
func (s *Snapshot) All() iter.Seq[Node] {
	return func(yield func(Node) bool) {
		if !yield(Node{v: versionView}) {
			return
		}
		for it := s.services.Iterator(); !it.Done(); {
			_, e, _ := it.Next()
			v := e.view
			if v == nil {
				continue
			}
			for i := range v.nodes {
				n := Node{v: v, i: uint32(i)}
				if !n.Empty() && !yield(n) {
					return
				}
			}
		}
	}
}
