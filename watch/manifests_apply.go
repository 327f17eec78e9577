package watch

import (
	"cmp"
	"crypto/sha256"
	"os"
	"path/filepath"
	"slices"

	"go.uber.org/zap"
)

// revive reads back the object of o, a definition handed to the Sink once
// and forgotten, which must be applied again: an overriding definition
// elsewhere went away. It reports false, leaving the Sink as it is, when
// o's file no longer holds what was read (it changed on disk since): the
// file is then marked unread, so the next load (its change event, or the
// periodic re-read) decodes it whole.
//
// read holds the files read back during one apply, so that a file is read
// and decoded once however many of its objects come back.
//
// A file that does not parse any more keeps no body of its last good
// content to give, nor does one whose definition of o is invalid now (o is
// held): the version served stays until the file is fixed. Reading such a
// file again would only find the same content, on every load.
func (m *Manifests) revive(o *manifestObject, read map[string][]*manifestObject) bool {
	name := filepath.Base(o.file)
	st := m.files[name]
	if st != nil && (st.err != nil || o.held) {
		if !st.reviveLogged {
			st.reviveLogged = true
			msg := "cannot serve a definition again from a file that does not parse; the version served stays until it does"
			if st.err == nil {
				msg = "cannot serve a definition again from a file where it is invalid now; the version served stays until it is fixed"
			}
			m.logger().Warn(msg, zap.String("file", o.file), zap.String("object", o.key.String()))
		}
		return false
	}
	objs, ok := read[name]
	if !ok {
		data, err := os.ReadFile(o.file)
		if st != nil && err == nil && sha256.Sum256(data) == st.sum {
			objs, _, _ = decodeManifest(o.file, data, m.only, nil)
			for _, fresh := range objs {
				fresh.seal()
			}
		}
		read[name] = objs
	}
	for _, fresh := range objs {
		if fresh.key == o.key && fresh.sum == o.sum && (fresh.svc != nil || fresh.slice != nil) {
			o.svc, o.slice = fresh.svc, fresh.slice
			return true
		}
	}
	if st != nil && st.read {
		st.read = false
		m.logger().Info("manifest file changed while being applied; reading it again", zap.String("file", o.file),
			zap.String("object", o.key.String()))
	}
	return false
}

// apply brings Sink from m.applied to want, touching only what differs.
func (m *Manifests) apply(want map[manifestKey]*manifestObject) {
	var upserts, deletes []*manifestObject
	for k, o := range want {
		o.seal()
		if old, ok := m.applied[k]; ok && old.sum == o.sum {
			o.drop() // same content, perhaps from another file now
			m.applied[k] = o
			continue
		}
		upserts = append(upserts, o)
	}
	for k, o := range m.applied {
		if _, ok := want[k]; !ok {
			deletes = append(deletes, o)
		}
	}
	// Services before their slices when adding, slices before their Service
	// when deleting, so the zone never holds a slice for a Service about to
	// be added; the order is otherwise fixed so that runs are repeatable.
	slices.SortFunc(upserts, func(a, b *manifestObject) int { return compareManifestKeys(a.key, b.key, false) })
	slices.SortFunc(deletes, func(a, b *manifestObject) int { return compareManifestKeys(a.key, b.key, true) })

	// The Sink publishes the whole change at once: an endpoint moved from
	// one slice to another in an edit never vanishes in between.
	if b, ok := m.Sink.(Batcher); ok && len(upserts)+len(deletes) > 1 {
		b.Hold()
		defer b.Release()
	}
	log := m.logger()
	var added, updated, deleted int
	read := map[string][]*manifestObject{}
	for _, o := range upserts {
		if o.svc == nil && o.slice == nil && !m.revive(o, read) {
			continue
		}
		event := "add"
		if _, ok := m.applied[o.key]; ok {
			event = "update"
		}
		var err error
		if o.svc != nil {
			err = m.Sink.UpsertService(o.svc)
		} else {
			err = m.Sink.UpsertSlice(o.slice)
		}
		if err != nil {
			// Left out of m.applied, so the next load tries it again; an
			// update that fails leaves the old version served.
			log.Warn("skipping object refused by the zone", zap.String("file", o.file), zap.Int("line", o.line),
				zap.String("object", o.key.String()), zap.Error(err))
			m.Metrics.Invalid(o.key.kind)
			continue
		}
		m.applied[o.key] = o
		m.Metrics.Event(o.key.kind, event)
		if o.slice != nil {
			m.Metrics.Programmed(o.slice.TriggerTime)
		}
		o.drop()
		if event == "add" {
			added++
		} else {
			updated++
		}
	}
	for _, o := range deletes {
		if o.key.kind == manifestKindService {
			m.Sink.DeleteService(o.key.namespace, o.key.name)
		} else {
			m.Sink.DeleteSlice(o.key.namespace, o.key.name)
		}
		delete(m.applied, o.key)
		m.Metrics.Event(o.key.kind, "delete")
		deleted++
	}
	if added+updated+deleted > 0 {
		log.Info("manifests applied", zap.String("dir", m.Dir), zap.Int("files", len(m.files)),
			zap.Int("added", added), zap.Int("updated", updated), zap.Int("deleted", deleted))
	}
}

// compareManifestKeys orders Services before EndpointSlices (after, if slicesFirst),
// then by namespace and name.
func compareManifestKeys(a, b manifestKey, slicesFirst bool) int {
	rank := func(k manifestKey) int {
		if (k.kind == manifestKindService) != slicesFirst {
			return 0
		}
		return 1
	}
	return cmp.Or(cmp.Compare(rank(a), rank(b)), cmp.Compare(a.namespace, b.namespace), cmp.Compare(a.name, b.name))
}
