package watch

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Manifests serves the Services and EndpointSlices written as Kubernetes
// manifests in a folder, for running without a cluster (on a laptop, in CI).
//
// Every *.yaml, *.yml and *.json file at the top of Dir is read; names
// starting with "." are skipped, and so are subfolders, so that editor
// swap files and the hidden timestamped folders of a mounted ConfigMap are
// never served twice. A file may hold several YAML documents separated by
// "---" lines (or, for JSON, several values one after the other), and a
// document may be a v1 List. Of the kinds, v1 Service and discovery.k8s.io/v1
// EndpointSlice are served, v1 Namespace is accepted and ignored, and any
// other kind is skipped with one log line. Objects without a namespace are
// in "default".
//
// An object that cannot be served (a bad address, a hostname that is not a
// DNS label, a slice without its kubernetes.io/service-name label, ...) is
// skipped with a log line and Metrics.Invalid; the rest keeps serving. A file
// that does not parse keeps serving what it held when it last parsed, and
// its error, naming the file and line, is logged and reported by Err.
//
// An object is known by kind, namespace and name. When several files define
// the same object, the last file in lexical order wins, with a warning.
// Each load applies only what changed, compared as the zone objects the
// manifests convert to: new and changed objects are upserted before objects
// that are gone are deleted, so a query never sees a name missing that
// both the old and the new content serve.
//
// Set the exported fields, then call Load and Run.
type Manifests struct {
	// Dir is the folder of manifests.
	Dir string
	// Sink receives the objects, from one goroutine at a time.
	Sink Sink
	// Namespaces limits the folder to objects in these namespaces, as
	// Kube.Namespaces does a cluster. Empty, or holding "", means all.
	Namespaces []string
	// LabelSelector narrows which Services are served, as
	// Kube.LabelSelector does: slices of the Services left out are held but
	// publish nothing.
	LabelSelector string
	// Logger defaults to zap.NewNop.
	Logger *zap.Logger
	// Metrics may be nil.
	Metrics *Metrics

	only    manifestFilter                  // Namespaces and LabelSelector, set by the first load
	mu      sync.Mutex                      // serialises loads
	files   map[string]*manifestFile        // by name within Dir
	applied map[manifestKey]*manifestObject // what Sink holds
	dups    map[string]bool                 // duplicate definitions already warned about
	dirErr  string                          // the folder's read error last logged by Run
	synced  atomic.Bool
}

// manifestFile is what a load remembers of one file.
type manifestFile struct {
	// sum and stamp identify the content last read, whether it parsed or
	// not; the bytes themselves are not kept (a large folder would otherwise
	// stay in memory twice).
	sum     [sha256.Size]byte
	stamp   manifestStamp
	read    bool              // sum and stamp are valid
	objects []*manifestObject // from the last content that parsed
	err     error             // why the content last read is not served; nil when it is
	// reviveLogged: a definition could not be served again from this
	// content because it does not parse, and the log said so.
	reviveLogged bool
}

// Load reads Dir and brings Sink in line with it. It returns an error only
// when Dir itself cannot be read or LabelSelector does not parse; files
// that cannot be read or parsed are logged and reported by Err. Call it
// once before Run; calling it again re-reads the folder, applying only what
// changed since.
func (m *Manifests) Load() error {
	if m.Sink == nil || m.Dir == "" {
		return errors.New("watch: Manifests needs a Dir and a Sink")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.load(false)
}

// Synced reports whether a load has completed, so that readiness can wait
// for the first one.
func (m *Manifests) Synced() bool { return m.synced.Load() }

// Err returns, joined in file order, why each file that is not served as
// it is on disk is not: it did not parse or could not be read. It is nil when
// every file is served as written. Each error names the file and, for a
// syntax error, its line within the file.
func (m *Manifests) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(m.files)) {
		if err := m.files[name].err; err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (m *Manifests) logger() *zap.Logger {
	if m.Logger == nil {
		return zap.NewNop()
	}
	return m.Logger
}

// isManifest reports whether a file name in Dir is read as a manifest.
func isManifest(name string) bool {
	if strings.HasPrefix(name, ".") {
		return false
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// errManifestNotFile is a manifest name that is not a regular file (a folder, a
// pipe): not read, because reading a pipe could block the source forever.
var errManifestNotFile = errors.New("not a regular file")

func statManifest(path string) (manifestStamp, error) {
	fi, err := os.Stat(path) // follows symlinks, as a ConfigMap mount needs
	if err != nil {
		return manifestStamp{}, err
	}
	if !fi.Mode().IsRegular() {
		return manifestStamp{}, errManifestNotFile
	}
	return manifestStamp{size: fi.Size(), mod: fi.ModTime()}, nil
}

// emptyGrace is how long a file that turned empty is taken for one being
// rewritten, not one emptied on purpose.
const emptyGrace = 2 * time.Second

// manifestStamp is what a stat says of a file's content.
type manifestStamp struct {
	size int64
	mod  time.Time
}

// load does Load's work; m.mu is held. With trustStat, a file whose size
// and modification time are as last read is not read again: the periodic
// safety-net re-read then costs a stat per file, while reloads after a
// change event always read (an edit can keep both within a clock tick).
func (m *Manifests) load(trustStat bool) error {
	log := m.logger()
	entries, err := os.ReadDir(m.Dir)
	if err != nil {
		return fmt.Errorf("manifests folder: %w", err)
	}
	if m.files == nil {
		only, err := newManifestFilter(m.Namespaces, m.LabelSelector)
		if err != nil {
			return err
		}
		m.only = only
		m.files, m.applied, m.dups = map[string]*manifestFile{}, map[manifestKey]*manifestObject{}, map[string]bool{}
	}
	changed := !m.synced.Load()
	present := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		if !isManifest(name) {
			continue
		}
		path := filepath.Join(m.Dir, name)
		stamp, err := statManifest(path)
		var data []byte
		if err == nil {
			if st := m.files[name]; trustStat && st != nil && st.read && st.stamp == stamp {
				present[name] = true
				continue
			}
			data, err = os.ReadFile(path)
		}
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errManifestNotFile) {
			// Gone since ReadDir, or a dangling symlink: a file that is
			// not there, so its objects go.
			continue
		}
		present[name] = true
		st := m.files[name]
		if st == nil {
			st = &manifestFile{}
			m.files[name] = st
		}
		if err != nil {
			if st.err == nil || st.err.Error() != err.Error() {
				log.Error("cannot read manifest file; serving its last good content", zap.String("file", path), zap.Error(err))
			}
			st.err, st.read = err, false
			continue
		}
		if len(bytes.TrimSpace(data)) == 0 && len(st.objects) > 0 && time.Since(stamp.mod) < emptyGrace {
			// Caught between truncate and write (os.WriteFile, shell
			// redirection): keep serving the last content and read again
			// on the write's own event or the next re-read.
			st.read = false
			continue
		}
		sum := sha256.Sum256(data)
		if st.read && st.sum == sum {
			st.stamp = stamp
			continue // unchanged: neither re-applied nor re-logged
		}
		st.sum, st.stamp, st.read, st.reviveLogged = sum, stamp, true, false
		objs, notes, err := decodeManifest(path, data, m.only)
		if err != nil {
			st.err = err
			log.Error("cannot parse manifest file; serving its last good content", zap.String("file", path), zap.Error(err))
			continue
		}
		st.objects, st.err = objs, nil
		m.report(path, notes)
		changed = true
	}
	for name := range m.files {
		if !present[name] {
			changed = changed || len(m.files[name].objects) > 0
			delete(m.files, name)
		}
	}
	if changed {
		m.apply(m.desired())
	}
	m.synced.Store(true)
	m.Metrics.Touch()
	return nil
}

// report logs what decoding a file found worth saying, once per content of
// the file: unchanged files are not decoded again.
func (m *Manifests) report(path string, notes []manifestNotice) {
	log := m.logger()
	for _, n := range notes {
		fields := []zap.Field{zap.String("file", path), zap.Int("line", n.line), zap.String("object", n.object)}
		switch {
		case n.skipped && (n.kind == manifestKindService || n.kind == manifestKindSlice):
			log.Warn("skipping object: only v1 Service and discovery.k8s.io/v1 EndpointSlice are served", fields...)
		case n.skipped:
			log.Info("skipping object of a kind that DNS does not use", fields...)
		default:
			log.Warn("skipping invalid object", append(fields, zap.Error(n.err))...)
			if n.kind != "" {
				m.Metrics.Invalid(n.kind)
			}
		}
	}
}

// desired is the set of objects the files define now, the last definition
// of each winning.
func (m *Manifests) desired() map[manifestKey]*manifestObject {
	want := map[manifestKey]*manifestObject{}
	dups := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(m.files)) {
		for _, o := range m.files[name].objects {
			if prev, ok := want[o.key]; ok {
				// Warn once per pair of definitions, not on every load
				// while the duplicate stays.
				id := o.key.String() + "\x00" + prev.file + "\x00" + o.file
				dups[id] = true
				if !m.dups[id] {
					m.logger().Warn("object defined more than once; the later definition wins",
						zap.String("object", o.key.String()),
						zap.String("file", o.file), zap.Int("line", o.line),
						zap.String("overrides", fmt.Sprintf("%s:%d", prev.file, prev.line)))
				}
			}
			want[o.key] = o
		}
	}
	m.dups = dups
	return want
}

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
// content to give: the version served stays until the file parses again.
func (m *Manifests) revive(o *manifestObject, read map[string][]*manifestObject) bool {
	name := filepath.Base(o.file)
	st := m.files[name]
	if st != nil && st.err != nil {
		if !st.reviveLogged {
			st.reviveLogged = true
			m.logger().Warn("cannot serve a definition again from a file that does not parse; the version served stays until it does",
				zap.String("file", o.file), zap.String("object", o.key.String()))
		}
		return false
	}
	objs, ok := read[name]
	if !ok {
		data, err := os.ReadFile(o.file)
		if st != nil && err == nil && sha256.Sum256(data) == st.sum {
			objs, _, _ = decodeManifest(o.file, data, m.only)
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
