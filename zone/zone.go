package zone

import (
	"cmp"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/immutable"
)

// A Zone is the live set of Services and EndpointSlices that DNS answers
// from. Writers (Upsert*, Delete*) are serialised among themselves; readers
// call Snapshot and never wait for a writer: every write publishes a new
// immutable Snapshot with one atomic store. A write costs the size of the one
// Service it touches (plus a logarithmic step in the number of Services),
// never the size of the cluster.
//
// The zero Zone is not usable; call New.
type Zone struct {
	mu   sync.Mutex
	snap atomic.Pointer[Snapshot]
	// sliceOwner remembers which Service each slice was filed under, so a
	// slice whose service-name label changes leaves its old Service. Only
	// writers touch it, under mu.
	sliceOwner map[string]string
}

// New returns an empty zone.
func New() *Zone {
	z := &Zone{sliceOwner: map[string]string{}}
	z.snap.Store(&Snapshot{
		services:   immutable.NewMap[string, *entry](stringHasher{}),
		namespaces: immutable.NewMap[string, int](stringHasher{}),
		reverse:    immutable.NewMap[netip.Addr, []*Node](addrHasher{}),
		modified:   time.Now(),
	})
	return z
}

// Snapshot returns the zone as it is now. It never blocks and the result
// never changes; hold it for as long as one answer needs a consistent view.
func (z *Zone) Snapshot() *Snapshot { return z.snap.Load() }

// entry is everything the zone holds for one Service key: the Service (nil
// until it is seen, or after it is deleted while slices linger), its slices,
// and what it publishes. Entries are immutable; writers replace them.
type entry struct {
	service *Service
	slices  map[string]*Slice
	view    *view
}

// UpsertService adds or replaces a Service. An invalid Service is refused with
// an error and the zone is left as it was.
func (z *Zone) UpsertService(s *Service) error {
	if err := s.Validate(); err != nil {
		return err
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	key := serviceKey(s.Namespace, s.Name)
	w := z.begin()
	old, _ := w.services.Get(key)
	e := &entry{service: s}
	if old != nil {
		e.slices = old.slices
	}
	w.put(key, old, e)
	z.snap.Store(w)
	return nil
}

// DeleteService removes a Service. Its names stop resolving at once, even if
// its EndpointSlices are still present (they are kept, unserved, in case the
// Service comes back). Deleting an unknown Service does nothing.
func (z *Zone) DeleteService(namespace, name string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	key := serviceKey(namespace, name)
	w := z.begin()
	old, ok := w.services.Get(key)
	if !ok || old.service == nil {
		return
	}
	w.put(key, old, &entry{slices: old.slices})
	z.snap.Store(w)
}

// UpsertSlice adds or replaces an EndpointSlice. An invalid slice is refused
// with an error and the zone is left as it was.
func (z *Zone) UpsertSlice(s *Slice) error {
	if err := s.Validate(); err != nil {
		return err
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	sk := s.Namespace + "/" + s.Name
	key := serviceKey(s.Namespace, s.Service)
	w := z.begin()
	if prev, ok := z.sliceOwner[sk]; ok && prev != key {
		w.removeSlice(prev, s.Name)
	}
	z.sliceOwner[sk] = key
	old, _ := w.services.Get(key)
	e := &entry{slices: map[string]*Slice{s.Name: s}}
	if old != nil {
		e.service = old.service
		for n, other := range old.slices {
			if n != s.Name {
				e.slices[n] = other
			}
		}
	}
	w.put(key, old, e)
	z.snap.Store(w)
	return nil
}

// DeleteSlice removes an EndpointSlice. Deleting an unknown slice does nothing.
func (z *Zone) DeleteSlice(namespace, name string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	sk := namespace + "/" + name
	key, ok := z.sliceOwner[sk]
	if !ok {
		return
	}
	delete(z.sliceOwner, sk)
	w := z.begin()
	w.removeSlice(key, name)
	z.snap.Store(w)
}

// begin starts the next snapshot as a shallow copy of the current one; the
// persistent maps inside share all structure that a write does not touch.
func (z *Zone) begin() *Snapshot {
	next := *z.snap.Load()
	next.modified = time.Now()
	return &next
}

func (w *Snapshot) removeSlice(key, sliceName string) {
	old, ok := w.services.Get(key)
	if !ok {
		return
	}
	if _, has := old.slices[sliceName]; !has {
		return
	}
	e := &entry{service: old.service, slices: make(map[string]*Slice, len(old.slices))}
	for n, s := range old.slices {
		if n != sliceName {
			e.slices[n] = s
		}
	}
	w.put(key, old, e)
}

// put replaces old (nil when absent) with e under key, rebuilding e's view
// and the indexes that depend on it.
func (w *Snapshot) put(key string, old, e *entry) {
	if e.service != nil {
		e.view = buildView(e.service, e.slices)
	}
	if e.service == nil && len(e.slices) == 0 {
		w.services = w.services.Delete(key)
	} else {
		w.services = w.services.Set(key, e)
	}

	var oldView *view
	if old != nil {
		oldView = old.view
		if old.service != nil {
			w.countNamespace(old.service.Namespace, -1)
			w.serviceCount--
		}
	}
	if e.service != nil {
		w.countNamespace(e.service.Namespace, +1)
		w.serviceCount++
	}
	w.reindexPTR(key, oldView, e.view)
}

func (w *Snapshot) countNamespace(ns string, delta int) {
	n, _ := w.namespaces.Get(ns)
	if n+delta <= 0 {
		w.namespaces = w.namespaces.Delete(ns)
		return
	}
	w.namespaces = w.namespaces.Set(ns, n+delta)
}

// reindexPTR moves the reverse entries of one Service from its old view to
// its new one, touching only the addresses either of them holds.
func (w *Snapshot) reindexPTR(key string, oldView, newView *view) {
	touched := map[netip.Addr]bool{}
	oldView.eachPTR(func(ip netip.Addr, _ *Node) { touched[ip] = true })
	added := map[netip.Addr][]*Node{}
	newView.eachPTR(func(ip netip.Addr, n *Node) {
		touched[ip] = true
		added[ip] = append(added[ip], n)
	})
	if oldView != nil {
		w.readyCount -= oldView.ready
	}
	if newView != nil {
		w.readyCount += newView.ready
	}
	for ip := range touched {
		cur, _ := w.reverse.Get(ip)
		next := make([]*Node, 0, len(cur)+len(added[ip]))
		for _, n := range cur {
			if serviceKey(n.Service.Namespace, n.Service.Name) != key {
				next = append(next, n)
			}
		}
		next = append(next, added[ip]...)
		if len(next) == 0 {
			w.reverse = w.reverse.Delete(ip)
			continue
		}
		slices.SortFunc(next, func(a, b *Node) int { return cmp.Compare(a.Name, b.Name) })
		w.reverse = w.reverse.Set(ip, next)
	}
}
