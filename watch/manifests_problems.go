package watch

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"
)

// Problem is one reason a file of the folder is not served as it is on
// disk: the file cannot be read or parsed, or an object in it cannot be
// served. Problems lists them; Err joins their errors.
type Problem struct {
	// File is the file's path, Dir joined with its name. Line is where the
	// problem is, or for an object where its document starts; 0 when not
	// known (a file that cannot be read).
	File string
	Line int
	// Kind ("Service" or "EndpointSlice"), Namespace and Name are the
	// object's, for an object of a kind served; empty for a file that cannot
	// be read or parsed, unless ServiceProblems says otherwise. Service is
	// an EndpointSlice's kubernetes.io/service-name label.
	Kind, Namespace, Name, Service string
	// Kept: a version read before is served in its place, the object's last
	// good one or, for a file, the objects of its last good content.
	Kept bool
	// Err says what is wrong, naming the file, the line and any object.
	Err error
}

// Problems returns every problem of the folder as last loaded, in file
// order and, within a file, in document order: one per file that cannot be
// read or parsed, else one per invalid object of the file. It is empty when
// Err is nil.
func (m *Manifests) Problems() []Problem {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Problem
	for _, name := range slices.Sorted(maps.Keys(m.files)) {
		st := m.files[name]
		if st.err != nil {
			// What is on disk now is all that needs fixing: the invalid
			// objects were those of an older content.
			out = append(out, fileProblem(st))
			continue
		}
		for _, e := range st.invalid {
			out = append(out, e.problem())
		}
	}
	return out
}

// ServiceProblems returns the problems that may explain how the names of
// the Service namespace/name resolve: the Service's own definition, or a
// slice labelled for it, found invalid; and every file that cannot be read
// or parsed, since its content on disk may define either. For such a file
// whose last good content defines the Service (else one of its slices),
// that object is named in the Problem, and Kept is set: it is what is
// served.
func (m *Manifests) ServiceProblems(namespace, name string) []Problem {
	ofService := func(kind, ns, n, service string) bool {
		return ns == namespace && (kind == manifestKindService && n == name || kind == manifestKindSlice && service == name)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Problem
	for _, file := range slices.Sorted(maps.Keys(m.files)) {
		st := m.files[file]
		if st.err == nil {
			for _, e := range st.invalid {
				kindless := e.key.kind == "" && e.key.namespace == namespace && e.key.name == name
				if kindless || ofService(e.key.kind, e.key.namespace, e.key.name, e.service) ||
					ofService(e.key.kind, e.key.namespace, e.key.name, e.keptFor) {
					out = append(out, e.problem())
				}
			}
			continue
		}
		p := fileProblem(st)
		p.Kept = false
		// The Service first: it is what decides whether the name exists.
		for _, o := range st.objects {
			if ofService(o.key.kind, o.key.namespace, o.key.name, o.service) && (p.Kind == "" || o.key.kind == manifestKindService) {
				p.Kind, p.Namespace, p.Name, p.Service, p.Kept = o.key.kind, o.key.namespace, o.key.name, o.service, true
			}
		}
		out = append(out, p)
	}
	return out
}

// Err returns, joined in file order, why each file that is not served as
// it is on disk is not: it did not parse or could not be read, or objects in
// it are invalid (each skipped, or kept at the version its file last served).
// It is nil when every file is served as written, objects of kinds DNS does
// not use aside. Each error names the file and a line within it, and for an
// invalid object the object; an invalid object's error lasts until the file
// is fixed or the object is gone from it. Problems gives the same, apart.
func (m *Manifests) Err() error {
	var errs []error
	for _, p := range m.Problems() {
		errs = append(errs, p.Err)
	}
	return errors.Join(errs...)
}

// Served returns how many Services and EndpointSlices the folder serves, as
// last loaded: those held at their last good version included.
func (m *Manifests) Served() (services, slices int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.applied {
		if k.kind == manifestKindService {
			services++
		} else {
			slices++
		}
	}
	return services, slices
}

func fileProblem(st *manifestFile) Problem {
	p := Problem{Err: st.err, Kept: len(st.objects) > 0}
	if pe := (*manifestParseError)(nil); errors.As(st.err, &pe) {
		p.File, p.Line = pe.file, pe.line
	}
	return p
}

// manifestObjectError is an object of a file that cannot be served, as Err
// reports it.
type manifestObjectError struct {
	file    string
	line    int
	object  string // as manifestNotice has it; "" when the header did not decode
	key     manifestKey
	service string
	keptFor string
	held    bool
	err     error
}

func (e *manifestObjectError) Error() string {
	// The conversion's errors name their object too ("service ns/name:"),
	// which here would say it twice.
	why := e.err.Error()
	if e.key.kind != "" {
		why = strings.TrimPrefix(why, strings.ToLower(e.key.kind)+" "+e.key.namespace+"/"+e.key.name+": ")
	}
	return fmt.Sprintf("%s: line %d: invalid %s: %s", e.file, e.line, cmp.Or(e.object, "object"), why)
}

func (e *manifestObjectError) Unwrap() error { return e.err }

func (e *manifestObjectError) problem() Problem {
	return Problem{File: e.file, Line: e.line, Kind: e.key.kind, Namespace: e.key.namespace, Name: e.key.name,
		Service: e.service, Kept: e.held, Err: e}
}

// invalidObjects is the errors of the objects that notes skip as invalid.
func invalidObjects(path string, notes []manifestNotice) []*manifestObjectError {
	var errs []*manifestObjectError
	for _, n := range notes {
		if !n.skipped {
			errs = append(errs, &manifestObjectError{file: path, line: n.line, object: n.object,
				key: n.key, service: n.service, keptFor: n.keptFor, held: n.held, err: n.err})
		}
	}
	return errs
}

// manifestParseError is a file that could not be read or parsed. line is
// relative to the file, not to the document within it, so that an editor
// can jump to it.
type manifestParseError struct {
	file string
	line int // 0 when the parser did not say, or the file was not read
	msg  string
}

func (e *manifestParseError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("%s: line %d: %s", e.file, e.line, e.msg)
	}
	return e.file + ": " + e.msg
}

// manifestReadError is err of reading the file at path, worded as the other
// errors of a file are: the path first, said once.
func manifestReadError(path string, err error) error {
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		err = pe.Err
	}
	return &manifestParseError{file: path, msg: "cannot read: " + err.Error()}
}
