package zone

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/immutable"
)

// Hold starts a batch of writes: until Release, readers go on seeing the zone
// as it was, and writes only record what changed. Release then builds each
// Service that changed once and publishes one snapshot. It is for loading a
// whole cluster at start, when a Service would otherwise be built once for
// itself and again for each of its slices, and all those snapshots thrown
// away: a load is faster and leaves a denser heap.
//
// Holds nest: each Hold needs its Release, and the batch is published at
// the last one. Two sources that load into one zone at once (two folders,
// or a folder and a cluster) each hold it, and neither's Release publishes
// the other's half-loaded state; by the same token, a source that never
// releases (one whose cluster never lists) holds every other's writes back.
func (z *Zone) Hold() {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.holds++
	if z.pending == nil {
		w := z.begin()
		w.dirty = map[string]struct{}{}
		if w.services.Len() == 0 {
			// Filling an empty zone, the usual case at start: the map
			// can be built in place instead of copied on every write.
			w.build = immutable.NewMapBuilder[string, *entry](stringHasher{})
			w.buildNamespaces = map[string]int{}
		}
		z.pending = w
	}
}

// Release ends a Hold. The last Release of nested Holds ends the batch,
// building what changed and publishing it in one snapshot. Releasing a zone
// that is not held does nothing.
func (z *Zone) Release() {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.holds == 0 {
		return
	}
	if z.holds--; z.holds > 0 {
		return
	}
	w := z.pending
	if w.build != nil {
		w.services, w.build = w.build.Map(), nil
		b := immutable.NewMapBuilder[string, int](stringHasher{})
		for ns, n := range w.buildNamespaces {
			if n > 0 {
				b.Set(ns, n)
			}
		}
		w.namespaces, w.buildNamespaces = b.Map(), nil
	}
	// Entries written since Hold are not published yet: setting their view
	// here is still building them. Views are built on every core (each
	// touches only its own entry); the reverse index, one shared map, after.
	base := z.snap.Load()
	changes := make([]viewChange, 0, len(w.dirty))
	var built []*entry
	for key := range w.dirty {
		var c viewChange
		if old, ok := base.services.Get(key); ok {
			c.old = old.view
		}
		if e, ok := w.services.Get(key); ok && e.service != nil {
			built = append(built, e)
		}
		changes = append(changes, c)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), 1+len(built)/64) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(built); i = int(next.Add(1)) - 1 {
				built[i].view = buildView(built[i])
			}
		})
	}
	wg.Wait()
	for _, e := range built {
		changes = append(changes, viewChange{new: e.view})
	}
	w.reindexPTRs(changes)
	w.dirty, z.pending = nil, nil
	w.modified = time.Now()
	z.store(w)
}
