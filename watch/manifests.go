package watch

import (
	"bytes"
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
// A file that does not parse keeps serving what it held when it last
// parsed, and its error, naming the file and line, is logged and reported by
// Err. An object that cannot be served (a bad address, a hostname that is
// not a DNS label, a slice without its kubernetes.io/service-name label, ...)
// is logged, counted in Metrics.Invalid and reported by Err until it is
// fixed, and likewise keeps the version its file last served of it, if any:
// an edit gone wrong loses nothing. One its file never served is skipped.
// Either way the rest keeps serving, and removing the object from its file,
// or the file, deletes it.
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
	subdirs map[string]bool                 // subfolders the log has named
	synced  atomic.Bool
}

// manifestFile is what a load remembers of one file.
type manifestFile struct {
	// sum and stamp identify the content last read, whether it parsed or
	// not; the bytes themselves are not kept (a large folder would otherwise
	// stay in memory twice).
	sum     [sha256.Size]byte
	stamp   manifestStamp
	read    bool                   // sum and stamp are valid
	objects []*manifestObject      // from the last content that parsed
	err     error                  // why the content last read is not served; nil when it is
	invalid []*manifestObjectError // why objects of the last content that parsed cannot be served, for Err
	// reviveLogged: a definition could not be served again from this
	// content because it does not parse or defines the object invalidly,
	// and the log said so.
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
		m.files, m.applied, m.dups, m.subdirs = map[string]*manifestFile{}, map[manifestKey]*manifestObject{}, map[string]bool{}, map[string]bool{}
	}
	changed := !m.synced.Load()
	present := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() && !strings.HasPrefix(name, ".") && !m.subdirs[name] {
			// Not read, as kubectl apply -f DIR reads none without -R; but
			// a folder whose manifests sit one level down would otherwise
			// serve nothing without a word. (Dot-folders are a ConfigMap
			// mount's own, ..data and the like.)
			m.subdirs[name] = true
			log.Info("not reading a subfolder: only the folder's own files are served", zap.String("folder", filepath.Join(m.Dir, name)))
		}
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
			err = manifestReadError(path, err)
			if st.err == nil || st.err.Error() != err.Error() {
				log.Error("cannot read manifest file; "+keeping(st), zap.String("file", path), zap.Error(err))
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
		objs, notes, err := decodeManifest(path, data, m.only, st.objects)
		if err != nil {
			st.err = err
			log.Error("cannot parse manifest file; "+keeping(st), zap.String("file", path), zap.Error(err))
			continue
		}
		st.objects, st.err, st.invalid = objs, nil, invalidObjects(path, notes)
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
	if !m.synced.Load() && len(present) == 0 {
		log.Warn("no manifest files in the folder: nothing to serve (*.yaml, *.yml, *.json at its top level)", zap.String("folder", m.Dir))
	}
	m.synced.Store(true)
	m.Metrics.Touch()
	return nil
}

// keeping says what a file that cannot be read or parsed leaves served.
func keeping(st *manifestFile) string {
	if len(st.objects) > 0 {
		return "serving its last good content"
	}
	return "skipped"
}

// report logs what decoding a file found worth saying, once per content of
// the file: unchanged files are not decoded again.
func (m *Manifests) report(path string, notes []manifestNotice) {
	log := m.logger()
	for _, n := range notes {
		fields := []zap.Field{zap.String("file", path), zap.Int("line", n.line), zap.String("object", n.object)}
		switch {
		case n.skipped && n.kind == "Endpoints":
			// The docs' selector-less Service pattern: a cluster mirrors
			// v1 Endpoints into a slice, a folder has no controller to.
			log.Warn("skipping v1 Endpoints: write a discovery.k8s.io/v1 EndpointSlice instead (in a cluster the mirroring controller makes one from it)", fields...)
		case n.skipped:
			log.Info("skipping object of a kind that DNS does not use", fields...)
		case n.held:
			log.Warn("invalid object; serving its last good version", append(fields, zap.Error(n.err))...)
			m.Metrics.Invalid(n.kind)
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
