package zone

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"net/netip"
	"reflect"
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
	sliceOwner map[sliceID]string // the Service's name; strings shared with the packed slice
	// pending is the snapshot being written between Hold and Release; nil
	// otherwise. holds counts the Holds not yet released.
	pending *Snapshot
	holds   int
}

// New returns an empty zone.
func New() *Zone {
	z := &Zone{sliceOwner: map[sliceID]string{}}
	now := time.Now()
	z.snap.Store(&Snapshot{
		services:   immutable.NewMap[string, *entry](stringHasher{}),
		namespaces: immutable.NewMap[string, int](stringHasher{}),
		reverse:    immutable.NewMap[[16]byte, *ptrBucket](addrHasher{}),
		modified:   now,
		serial:     uint32(now.Unix()),
		stored:     now,
		seen:       new(atomic.Uint32),
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
	// slices are in name order; a slice or two is the norm, so a sorted
	// slice is smaller than a map and as quick to search.
	slices []*packedSlice
	view   *view
}

// UpsertService adds or replaces a Service. An invalid Service is refused with
// an error and the zone is left as it was. A Service equal to the one held
// changes nothing: the zone keeps the one it has and publishes no snapshot.
// The zone keeps its own copy of s, so the caller may reuse or change s
// afterwards (and upsert it again).
func (z *Zone) UpsertService(s *Service) error {
	if err := s.Validate(); err != nil {
		return err
	}
	s = s.clone()
	z.mu.Lock()
	defer z.mu.Unlock()
	key := serviceKey(s.Namespace, s.Name)
	old, _ := z.current().entry(key)
	if old != nil && old.service != nil && reflect.DeepEqual(old.service, s) {
		return nil
	}
	w := z.begin()
	e := &entry{service: s}
	if old != nil {
		e.slices = old.slices
	}
	w.put(key, old, e)
	z.publish(w)
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
	old, ok := w.entry(key)
	if !ok || old.service == nil {
		return
	}
	w.put(key, old, &entry{slices: old.slices})
	z.publish(w)
}

// UpsertSlice adds or replaces an EndpointSlice. An invalid slice is refused
// with an error and the zone is left as it was. A slice equal to the one held
// but for its TriggerTime changes nothing: the zone keeps the one it has and
// publishes no snapshot. The zone keeps its own compact copy of s, not s.
func (z *Zone) UpsertSlice(s *Slice) error {
	if err := s.Validate(); err != nil {
		return err
	}
	p := pack(s)
	z.mu.Lock()
	defer z.mu.Unlock()
	sk := sliceID{p.namespace, p.name}
	key := serviceKey(s.Namespace, s.Service)
	prevSvc, known := z.sliceOwner[sk]
	moved := known && prevSvc != s.Service // its service-name label changed
	old, _ := z.current().entry(key)
	var i int
	var found bool
	if old != nil {
		i, found = slices.BinarySearchFunc(old.slices, s.Name, bySliceName)
		if found && known && !moved && samePacked(old.slices[i], p) {
			return nil
		}
	}
	w := z.begin()
	if moved {
		w.removeSlice(serviceKey(s.Namespace, prevSvc), s.Name)
	}
	z.sliceOwner[sk] = p.service
	e := &entry{}
	if old != nil {
		e.service = old.service
		e.slices = old.slices
	}
	if found {
		e.slices = slices.Clone(e.slices)
		e.slices[i] = p
	} else {
		e.slices = slices.Insert(slices.Clip(e.slices), i, p)
	}
	w.put(key, old, e)
	z.publish(w)
	return nil
}

// DeleteSlice removes an EndpointSlice. Deleting an unknown slice does nothing.
func (z *Zone) DeleteSlice(namespace, name string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	sk := sliceID{namespace, name}
	svc, ok := z.sliceOwner[sk]
	if !ok {
		return
	}
	delete(z.sliceOwner, sk)
	w := z.begin()
	w.removeSlice(serviceKey(namespace, svc), name)
	z.publish(w)
}

// sliceID names an EndpointSlice.
type sliceID struct{ namespace, name string }

// begin starts the next snapshot as a shallow copy of the current one; the
// persistent maps inside share all structure that a write does not touch.
// Between Hold and Release every write goes to the one pending snapshot.
func (z *Zone) begin() *Snapshot {
	if z.pending != nil {
		return z.pending
	}
	next := *z.snap.Load()
	next.modified = time.Now()
	next.seen = new(atomic.Uint32)
	return &next
}

// publish makes w the snapshot readers see, unless writes are held.
func (z *Zone) publish(w *Snapshot) {
	if z.pending == nil {
		z.store(w)
	}
}

// store publishes w, giving it its serial: a serial is settled when the
// snapshot before it can no longer be handed out.
func (z *Zone) store(w *Snapshot) {
	w.stored = time.Now()
	w.serial = nextSerial(z.snap.Load(), uint32(w.stored.Unix()))
	z.snap.Store(w)
}

// entry returns what w holds under key.
func (w *Snapshot) entry(key string) (*entry, bool) {
	if w.build != nil {
		return w.build.Get(key)
	}
	return w.services.Get(key)
}

func (w *Snapshot) setEntry(key string, e *entry) {
	if w.build != nil {
		w.build.Set(key, e)
		return
	}
	w.services = w.services.Set(key, e)
}

func (w *Snapshot) deleteEntry(key string) {
	if w.build != nil {
		w.build.Delete(key)
		return
	}
	w.services = w.services.Delete(key)
}

// current is what writers read: the pending snapshot between Hold and
// Release, else the published one.
func (z *Zone) current() *Snapshot {
	if z.pending != nil {
		return z.pending
	}
	return z.snap.Load()
}

func (w *Snapshot) removeSlice(key, sliceName string) {
	old, ok := w.entry(key)
	if !ok {
		return
	}
	i, has := slices.BinarySearchFunc(old.slices, sliceName, bySliceName)
	if !has {
		return
	}
	e := &entry{service: old.service, slices: slices.Delete(slices.Clone(old.slices), i, i+1)}
	if len(e.slices) == 0 {
		e.slices = nil
	}
	w.put(key, old, e)
}

func bySliceName(s *packedSlice, name string) int { return cmp.Compare(s.name, name) }

// put replaces old (nil when absent) with e under key, rebuilding e's view
// and the indexes that depend on it; between Hold and Release, that is left
// to Release.
func (w *Snapshot) put(key string, old, e *entry) {
	if w.dirty != nil {
		w.dirty[key] = struct{}{}
	} else if e.service != nil {
		e.view = buildView(e)
	}
	if e.service == nil && len(e.slices) == 0 {
		w.deleteEntry(key)
	} else {
		w.setEntry(key, e)
	}

	var oldView *view
	var oldService *Service
	if old != nil {
		oldView, oldService = old.view, old.service
	}
	// A key is "namespace/name", so a Service replaced by another under it
	// leaves the namespace's count as it was: only one that appears or goes
	// touches it (a Set on the persistent map copies its path, ~1.5 KB,
	// which every slice update used to pay twice).
	if oldService == nil || e.service == nil {
		if oldService != nil {
			w.countNamespace(oldService.Namespace, -1)
			w.serviceCount--
		}
		if e.service != nil {
			w.countNamespace(e.service.Namespace, +1)
			w.serviceCount++
		}
	}
	if w.dirty == nil {
		w.reindexPTR(oldView, e.view)
	}
}

func (w *Snapshot) countNamespace(ns string, delta int) {
	if w.buildNamespaces != nil {
		w.buildNamespaces[ns] += delta
		return
	}
	n, _ := w.namespaces.Get(ns)
	if n+delta <= 0 {
		w.namespaces = w.namespaces.Delete(ns)
		return
	}
	w.namespaces = w.namespaces.Set(ns, n+delta)
}

// viewChange is one view replaced by another in the reverse index; either
// may be nil.
type viewChange struct{ old, new *view }

// reindexPTR moves the reverse entries of one Service from its old view to
// its new one, touching only the buckets of the addresses either holds.
func (w *Snapshot) reindexPTR(oldView, newView *view) {
	w.reindexPTRs([]viewChange{{oldView, newView}})
}

// ptrChunk bounds the scratch reindexPTRs sorts at once, in addresses. A
// whole zone's addresses at once (at Release) took 40 bytes each, 4 MB at
// 100k endpoints, on top of the zone being built.
const ptrChunk = 8192

// reindexPTRs applies many view changes to the reverse index, rebuilding
// each bucket they touch once: a whole zone's worth at Release. The
// addresses are taken in parts of about ptrChunk, each part a fixed set
// of buckets (by a hash of the bucket key), so every bucket is still
// rebuilt once.
func (w *Snapshot) reindexPTRs(changes []viewChange) {
	count := 0
	var gone []*view // the old views: their entries leave every bucket
	for _, c := range changes {
		count += c.old.ptrCount() + c.new.ptrCount()
		if c.old != nil {
			gone = append(gone, c.old)
			w.readyCount -= c.old.ready
		}
		if c.new != nil {
			w.readyCount += c.new.ready
		}
	}
	isGone := func(v *view) bool { return slices.Contains(gone, v) }
	if len(gone) > 8 {
		set := make(map[*view]struct{}, len(gone))
		for _, v := range gone {
			set[v] = struct{}{}
		}
		isGone = func(v *view) bool { _, ok := set[v]; return ok }
	}
	parts := (count + ptrChunk - 1) / ptrChunk
	ptrs := make([]ptrChange, 0, min(count, ptrChunk+ptrChunk/4))
	for part := range parts {
		ptrs = ptrs[:0]
		for _, c := range changes {
			c.old.eachPTR(func(ip netip.Addr, _ Node) {
				if k, low := ptrKey(ip); ptrPart(k, parts) == part {
					ptrs = append(ptrs, ptrChange{k, low, Node{}})
				}
			})
			c.new.eachPTR(func(ip netip.Addr, n Node) {
				if k, low := ptrKey(ip); ptrPart(k, parts) == part {
					ptrs = append(ptrs, ptrChange{k, low, n})
				}
			})
		}
		w.rebuildBuckets(ptrs, isGone)
	}
}

// ptrChange is an address entering a bucket, or, with the zero Node, one
// an old view held.
type ptrChange struct {
	key [16]byte
	low uint8
	n   Node
}

// ptrPart spreads bucket keys over parts.
func ptrPart(k [16]byte, parts int) int {
	if parts == 1 {
		return 0
	}
	h := (binary.LittleEndian.Uint64(k[:8]) ^ binary.LittleEndian.Uint64(k[8:])) * 0x9e3779b97f4a7c15
	return int((h >> 32) % uint64(parts))
}

// rebuildBuckets rebuilds the bucket of every key in ptrs: what it held,
// less the entries of gone views, plus the new entries.
func (w *Snapshot) rebuildBuckets(ptrs []ptrChange, isGone func(*view) bool) {
	slices.SortFunc(ptrs, func(a, b ptrChange) int { return bytes.Compare(a.key[:], b.key[:]) })
	type target struct {
		low uint8
		n   Node
	}
	var next []target
	for start := 0; start < len(ptrs); {
		k := ptrs[start].key
		end := start + 1
		for end < len(ptrs) && ptrs[end].key == k {
			end++
		}
		next = next[:0]
		if cur, _ := w.reverse.Get(k); cur != nil {
			for _, e := range cur.ents {
				if n := cur.node(e); !isGone(n.v) {
					next = append(next, target{e.low, n})
				}
			}
		}
		for _, p := range ptrs[start:end] {
			if p.n.v != nil {
				next = append(next, target{p.low, p.n})
			}
		}
		start = end
		if len(next) == 0 {
			w.reverse = w.reverse.Delete(k)
			continue
		}
		slices.SortStableFunc(next, func(a, b target) int {
			if c := cmp.Compare(a.low, b.low); c != 0 {
				return c
			}
			return compareNames(a.n, b.n)
		})
		b := &ptrBucket{ents: make([]ptrEnt, len(next))}
		for i, t := range next {
			vi := slices.Index(b.views, t.n.v)
			if vi < 0 {
				vi = len(b.views)
				b.views = append(b.views, t.n.v)
			}
			b.ents[i] = ptrEnt{node: t.n.i, view: uint32(vi), low: t.low}
		}
		b.views = slices.Clip(b.views)
		w.reverse = w.reverse.Set(k, b)
	}
}
