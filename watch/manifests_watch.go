package watch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"
)

const (
	// manifestsDebounce is how long the folder must be quiet before a
	// reload: an editor's save (write a temp file, rename it over the old
	// one) or a ConfigMap update is a burst of events that should cost one
	// reload, and must not be read half way.
	manifestsDebounce = 100 * time.Millisecond
	// manifestsMaxDelay bounds the debounce, so that a file rewritten
	// without pause still shows within a second.
	manifestsMaxDelay = 500 * time.Millisecond
	// manifestsResync is how often the folder is re-read with no event:
	// changes behind a symlink to a file outside the folder raise no event
	// in it, nor do changes while the folder was gone. A re-read of files
	// that did not change costs their reading only.
	manifestsResync = 5 * time.Second
)

// Run watches Dir and applies its changes until ctx ends, then returns nil.
// Changes show within about a second. When Dir cannot be read any more, what
// it last held stays served, and watching resumes when it is back. Run
// returns an error when Dir is not a folder it can watch at the start. It
// loads the folder on starting, so a Load before it only makes the first
// load's error the caller's.
func (m *Manifests) Run(ctx context.Context) error {
	if m.Sink == nil || m.Dir == "" {
		return errors.New("watch: Manifests needs a Dir and a Sink")
	}
	if _, err := newManifestFilter(m.Namespaces, m.LabelSelector); err != nil {
		return err
	}
	// inotify watches a file as readily as a folder; only a folder will do.
	if fi, err := os.Stat(m.Dir); err != nil {
		return fmt.Errorf("manifests folder: %w", err)
	} else if !fi.IsDir() {
		return fmt.Errorf("manifests folder: %s is not a directory", m.Dir)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("manifests folder: %w", err)
	}
	defer w.Close()
	if err := w.Add(m.Dir); err != nil {
		return fmt.Errorf("manifests folder: watch %s: %w", m.Dir, err)
	}
	log := m.logger()
	dir := filepath.Clean(m.Dir)
	target := resolvedPath(m.Dir)

	// Changes made between Load and the watch starting raised no event.
	m.reload(false)

	debounce := time.NewTimer(manifestsDebounce)
	debounce.Stop()
	defer debounce.Stop()
	pending := false
	var since time.Time
	schedule := func() {
		now := time.Now()
		if !pending {
			pending, since = true, now
		} else if now.Sub(since) >= manifestsMaxDelay {
			return // let the armed timer fire
		}
		debounce.Reset(min(manifestsDebounce, manifestsMaxDelay-now.Sub(since)))
	}
	// watchDir watches Dir, and notes the folder it leads to then.
	watchDir := func() bool {
		if w.Add(m.Dir) != nil {
			return false
		}
		target = resolvedPath(m.Dir)
		return true
	}
	// rewatch runs before each load: when Dir is a symlink swapped to
	// another folder (a "current release" link), inotify still watches the
	// old one, and edits to the new one would wait for each re-read.
	rewatch := func() (swapped bool) {
		if resolvedPath(m.Dir) == target || len(w.WatchList()) == 0 {
			return false
		}
		_ = w.Remove(m.Dir)
		if watchDir() {
			log.Info("manifests folder now leads to another folder; watching that one", zap.String("dir", m.Dir), zap.String("folder", target))
		}
		return true
	}
	resync := time.NewTicker(manifestsResync)
	defer resync.Stop()

	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("manifests folder: watcher closed")
			}
			if filepath.Clean(ev.Name) == dir && ev.Has(fsnotify.Remove|fsnotify.Rename) {
				// A renamed folder would still be watched at its new path;
				// drop the watch so that resync re-adds it at Dir.
				_ = w.Remove(m.Dir)
				if fi, err := os.Stat(m.Dir); err == nil && fi.IsDir() && watchDir() {
					// Dir leads to a folder still: the one a swapped link
					// led to before went, or another took its place.
					schedule()
					continue
				}
				log.Warn("manifests folder removed or renamed; serving its last content until it is back", zap.String("dir", m.Dir))
				continue
			}
			// Any event can matter: a ConfigMap update renames the
			// "..data" symlink, which is not a manifest name itself.
			schedule()
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("manifests folder: watcher closed")
			}
			log.Warn("manifests folder watch error; re-reading the folder", zap.String("dir", m.Dir), zap.Error(err))
			schedule()
		case <-debounce.C:
			pending = false
			rewatch()
			m.reload(false)
		case <-resync.C:
			if len(w.WatchList()) == 0 {
				if !watchDir() {
					continue // still gone; keep serving what it held
				}
				log.Info("manifests folder is back; watching it again", zap.String("dir", m.Dir))
				m.reload(false) // another folder, maybe, with files of the same times
				continue
			}
			// A file of a folder just swapped in may have the size and
			// time of its namesake in the old one (tar, rsync -a, cp -a
			// keep times): it must be read, not trusted.
			m.reload(!rewatch())
		}
	}
}

// resolvedPath is the folder path leads to, or path when it leads nowhere.
func resolvedPath(path string) string {
	if p, err := filepath.EvalSymlinks(path); err == nil {
		return p
	}
	return path
}

// reload is a load whose failure is only logged: while running, a folder
// that went away keeps serving its last content.
func (m *Manifests) reload(trustStat bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	err := m.load(trustStat)
	if err != nil && err.Error() != m.dirErr {
		m.logger().Error("cannot read manifests folder; serving its last content", zap.Error(err))
	}
	m.dirErr = ""
	if err != nil {
		m.dirErr = err.Error() // logged once, not on every resync
	}
}
