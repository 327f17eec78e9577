package watch

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/slicedns/slicedns/zone"
)

// The kinds a manifests folder serves, as the zone and the metrics name them.
const (
	manifestKindService = "Service"
	manifestKindSlice   = "EndpointSlice"
)

// manifestKey is an object's identity across files and reloads.
type manifestKey struct {
	kind, namespace, name string
}

func (k manifestKey) String() string { return k.kind + " " + k.namespace + "/" + k.name }

// manifestObject is one servable object of a manifest file, already
// converted, so that a reload compares zone objects rather than source text:
// an edit that only reformats a file applies nothing.
type manifestObject struct {
	key  manifestKey
	file string // path of the file that defines it
	line int    // where its document starts, for logs
	// svc or slice is the object until the Sink has it; then only sum, its
	// content's digest, is kept, to tell a later version's changes: the
	// zone keeps its own copy, and a second one here would double a large
	// folder's memory.
	svc   *zone.Service
	slice *zone.Slice
	sum   [sha256.Size]byte
	// held: the file's current definition of the object is invalid, and
	// this is the last good one, kept so that a mistaken edit loses nothing.
	// The file cannot give it back once dropped.
	held bool
	// service is an EndpointSlice's kubernetes.io/service-name label, kept
	// after drop so that Problems can tell which Service a file that stopped
	// parsing still serves.
	service string
}

// seal computes o's sum from its object, once.
func (o *manifestObject) seal() {
	if o.svc == nil && o.slice == nil {
		return
	}
	var b []byte
	if o.svc != nil {
		b, _ = json.Marshal(o.svc)
	} else {
		b, _ = json.Marshal(o.slice)
	}
	o.sum = sha256.Sum256(b)
}

// drop forgets o's object once the Sink has it (or an equal one).
func (o *manifestObject) drop() { o.svc, o.slice = nil, nil }

// manifestNotice is something about a file worth one log line, collected
// while the file is decoded and logged only once the whole file parsed, so
// that a file that fails to parse (and keeps its old objects) neither logs
// nor counts the objects of its broken version.
type manifestNotice struct {
	line    int
	object  string // "<apiVersion> <kind> <namespace>/<name>" as written
	kind    string // the kind as written; Metrics.Invalid's label unless skipped or ""
	skipped bool   // an unsupported kind, which is not an error
	held    bool   // invalid, and the file's last good version of it stays
	err     error
	// key and service are an invalid object's identity and, for a slice, its
	// kubernetes.io/service-name label, so that explain can find it.
	key     manifestKey
	service string
	// keptFor is the Service the held version of a slice is served for,
	// which a relabelling edit that is invalid leaves it serving.
	keptFor string
}

// decodeManifest parses one manifest file (a YAML stream of documents
// separated by "---" lines, or for *.json a stream of JSON values) into the
// objects it serves. A syntax error anywhere fails the whole file; objects that parse
// but cannot be served, and unsupported kinds, are left out and reported as
// notices. prev is the file's objects from its last content that parsed: an
// invalid object that prev defines keeps prev's version, held.
func decodeManifest(path string, data []byte, only manifestFilter, prev []*manifestObject) ([]*manifestObject, []manifestNotice, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	d := &manifestDecoder{path: path, only: only, prev: prev}
	if strings.EqualFold(filepath.Ext(path), ".json") {
		if err := d.json(data); err != nil {
			return nil, nil, err
		}
		return d.objects, d.notices, nil
	}
	for _, doc := range splitYAMLDocuments(data) {
		js, err := yaml.YAMLToJSONStrict(doc.data)
		if err != nil {
			return nil, nil, manifestYAMLError(path, doc.line, err)
		}
		d.itemLines = func() []int { return yamlItemLines(doc.data, doc.line) }
		if err := d.value(yamlContentLine(doc), js, ""); err != nil {
			return nil, nil, err
		}
	}
	return d.objects, d.notices, nil
}

type manifestDecoder struct {
	path    string
	only    manifestFilter
	prev    []*manifestObject
	lastOf  map[manifestKey]*manifestObject // prev's winning definitions, built for the first invalid object
	objects []*manifestObject
	notices []manifestNotice
	// itemLines finds the lines of the current document's List items
	// (manifests_lines.go); nil below the top level.
	itemLines func() []int
}

// manifestFilter is Manifests' Namespaces and LabelSelector: which objects
// a folder serves. The zero value serves all.
type manifestFilter struct {
	namespaces []string        // empty: every namespace
	services   labels.Selector // nil: every Service
}

func newManifestFilter(namespaces []string, selector string) (manifestFilter, error) {
	var f manifestFilter
	if !slices.Contains(namespaces, "") {
		f.namespaces = slices.Clone(namespaces)
	}
	if selector != "" {
		sel, err := labels.Parse(selector)
		if err != nil {
			return f, fmt.Errorf("watch: label selector %q: %w", selector, err)
		}
		f.services = sel
	}
	return f, nil
}

// keeps reports whether an object of kind in namespace, with labels, is
// served. The selector applies to Services only, as with a cluster: a
// slice of a Service left out is held but publishes nothing.
func (f manifestFilter) keeps(kind, namespace string, objLabels map[string]string) bool {
	if len(f.namespaces) > 0 && !slices.Contains(f.namespaces, namespace) {
		return false
	}
	return kind != manifestKindService || f.services == nil || f.services.Matches(labels.Set(objLabels))
}

// json decodes a stream of JSON values. encoding/json is used rather than
// the YAML parser because it reports the offset of a syntax error, where
// YAML reports the line a flow collection starts on: for JSON that is line 1.
func (d *manifestDecoder) json(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		start := dec.InputOffset()
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			off := int64(len(data))
			if se := (*json.SyntaxError)(nil); errors.As(err, &se) {
				off = se.Offset - 1
			}
			return &manifestParseError{file: d.path, line: manifestLineAt(data, off), msg: "json: " + err.Error()}
		}
		// Point at the value's first byte, not at the whitespace before it.
		skip := len(data[start:]) - len(bytes.TrimLeft(data[start:], " \t\r\n"))
		line := manifestLineAt(data, start+int64(skip))
		d.itemLines = func() []int { return jsonItemLines(raw, line) }
		if err := d.value(line, raw, ""); err != nil {
			return err
		}
	}
}

// manifestHeader is what every object has; it picks the type to decode into and
// names the object in logs even when the rest does not decode.
type manifestHeader struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Items []json.RawMessage `json:"items"`
}

// typedListItems is the apiVersion and kind of a typed List's items.
var typedListItems = map[string]string{
	"ServiceList":       "v1 " + manifestKindService,
	"EndpointSliceList": "discovery.k8s.io/v1 " + manifestKindSlice,
}

// value decodes one document (or List item) given as JSON. item is the
// apiVersion and kind of a typed List's items ("v1 Service"), which the API
// server leaves out of each item (kubectl get --raw keeps them out too);
// "" for a document or a v1 List's item, which must name its own.
func (d *manifestDecoder) value(line int, js []byte, item string) error {
	js = bytes.TrimSpace(js)
	if len(js) == 0 || string(js) == "null" {
		return nil // an empty document, e.g. only comments, or a trailing "---"
	}
	if js[0] != '{' {
		// Most likely a broken edit (lost indentation); keeping the file's
		// last good content is safer than serving what is left of it.
		return &manifestParseError{file: d.path, line: line, msg: "document is not an object (a manifest must be a mapping with apiVersion and kind)"}
	}
	var h manifestHeader
	if err := json.Unmarshal(js, &h); err != nil {
		d.invalid(line, "", "", fmt.Errorf("apiVersion, kind or metadata: %w", err))
		return nil
	}
	if h.APIVersion == "" && h.Kind == "" && item != "" {
		h.APIVersion, h.Kind, _ = strings.Cut(item, " ")
	}
	desc := strings.TrimSpace(h.APIVersion + " " + h.Kind + " " + namespaceOf(h.Metadata.Namespace) + "/" + h.Metadata.Name)
	key := manifestKey{h.Kind, namespaceOf(h.Metadata.Namespace), h.Metadata.Name}
	if h.APIVersion == "" || h.Kind == "" {
		if h.Kind == manifestKindService || h.Kind == manifestKindSlice {
			d.invalidObject(line, key, desc, js, errors.New("apiVersion or kind missing"))
		} else {
			// Its kind unknown, it may be the Service of the same name:
			// explain shows it there (key.kind stays empty).
			d.notices = append(d.notices, manifestNotice{line: line, object: desc, err: errors.New("apiVersion or kind missing"),
				key: manifestKey{namespace: key.namespace, name: key.name}})
		}
		return nil
	}
	switch h.APIVersion + " " + h.Kind {
	case "v1 Service":
		var s corev1.Service
		if err := json.Unmarshal(js, &s); err != nil {
			d.invalidObject(line, key, desc, js, err)
			return nil
		}
		if !d.only.keeps(manifestKindService, namespaceOf(s.Namespace), s.Labels) {
			return nil
		}
		zs, err := ServiceFromAPI(&s)
		if err != nil {
			d.invalidObject(line, key, desc, js, err)
			return nil
		}
		d.add(line, &manifestObject{key: manifestKey{manifestKindService, zs.Namespace, zs.Name}, svc: zs})
	case "discovery.k8s.io/v1 EndpointSlice":
		var s discoveryv1.EndpointSlice
		if err := json.Unmarshal(js, &s); err != nil {
			d.invalidObject(line, key, desc, js, err)
			return nil
		}
		if !d.only.keeps(manifestKindSlice, namespaceOf(s.Namespace), s.Labels) {
			return nil
		}
		zs, err := SliceFromAPI(&s)
		if err != nil {
			d.invalidObject(line, key, desc, js, err)
			return nil
		}
		d.add(line, &manifestObject{key: manifestKey{manifestKindSlice, zs.Namespace, zs.Name}, slice: zs, service: zs.Service})
	case "v1 Namespace":
		// Namespaces exist in DNS through their Services; a manifest
		// declares them only so that it also applies to a real cluster.
	case "v1 List", "v1 ServiceList", "discovery.k8s.io/v1 EndpointSliceList":
		// Each item at its own line when the document's text says where
		// (a List in a List shares its List's line).
		var lines []int
		if d.itemLines != nil {
			lines, d.itemLines = d.itemLines(), nil
		}
		for i, it := range h.Items {
			itemLine := line
			if len(lines) == len(h.Items) {
				itemLine = lines[i]
			}
			if err := d.value(itemLine, it, typedListItems[h.Kind]); err != nil {
				return err
			}
		}
	default:
		if h.Kind == manifestKindService || h.Kind == manifestKindSlice {
			// A typo or an old version of a kind the folder is for: a
			// mistake to fix (check fails on it), and an edit that made it
			// keeps the last good version served.
			d.invalidObject(line, key, desc, js, fmt.Errorf("apiVersion %s: only v1 Service and discovery.k8s.io/v1 EndpointSlice are served", h.APIVersion))
			return nil
		}
		d.notices = append(d.notices, manifestNotice{line: line, object: desc, kind: h.Kind, skipped: true})
	}
	return nil
}

func (d *manifestDecoder) add(line int, o *manifestObject) {
	o.file, o.line = d.path, line
	d.objects = append(d.objects, o)
}

func (d *manifestDecoder) invalid(line int, kind, desc string, err error) {
	d.notices = append(d.notices, manifestNotice{line: line, object: desc, kind: kind, err: err})
}

// invalidObject notes an object of a kind served, known by key, that cannot
// be served. If the file's last good content defined it, that version stays
// in its place, as a file that does not parse keeps its last good content:
// a mistaken edit of a served object must not delete it.
func (d *manifestDecoder) invalidObject(line int, key manifestKey, desc string, js []byte, err error) {
	n := manifestNotice{line: line, object: desc, kind: key.kind, err: err, key: key}
	if key.kind == manifestKindSlice {
		n.service = sliceServiceLabel(js)
	}
	if d.lastOf == nil && len(d.prev) > 0 {
		d.lastOf = map[manifestKey]*manifestObject{}
		for _, o := range d.prev {
			d.lastOf[o.key] = o
		}
	}
	if o := d.lastOf[key]; o != nil {
		// A copy: if the file fails to parse further on, prev stays the
		// file's content as it was.
		kept := *o
		kept.line, kept.held = line, true
		d.objects = append(d.objects, &kept)
		n.held, n.keptFor = true, o.service
	}
	d.notices = append(d.notices, n)
}

// manifestLineAt is the 1-based line that byte offset off of data is on.
func manifestLineAt(data []byte, off int64) int {
	off = min(max(off, 0), int64(len(data)))
	return bytes.Count(data[:off], []byte("\n")) + 1
}

// sliceServiceLabel is the kubernetes.io/service-name label of an
// EndpointSlice given as JSON, read on its own: a slice that does not decode
// or convert must still be found by its Service's explanation.
func sliceServiceLabel(js []byte) string {
	var v struct {
		Metadata struct {
			Labels map[string]json.RawMessage `json:"labels"`
		} `json:"metadata"`
	}
	var name string
	if json.Unmarshal(js, &v) == nil {
		_ = json.Unmarshal(v.Metadata.Labels[discoveryv1.LabelServiceName], &name)
	}
	return name
}
