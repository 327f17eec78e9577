package watch

import (
	"reflect"
	"strings"
	"testing"
)

func TestSplitYAMLDocuments(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    string
		lines []int // where each document starts
		docs  []string
	}{
		{"one", "a: 1\n", []int{1}, []string{"a: 1\n"}},
		{"leading separator", "---\na: 1\n", []int{1, 2}, []string{"", "a: 1\n"}},
		{"separator with comment", "a: 1\n--- # next\nb: 2\n", []int{1, 3}, []string{"a: 1\n", "b: 2\n"}},
		{"trailing separator", "a: 1\n---\n", []int{1, 3}, []string{"a: 1\n", ""}},
		{"CRLF", "a: 1\r\n---\r\nb: 2\r\n", []int{1, 3}, []string{"a: 1\r\n", "b: 2\r\n"}},
		{"not separators", "a: ---\n----\n--- x\n", []int{1}, []string{"a: ---\n----\n--- x\n"}},
		{"no final newline", "a: 1\n---\nb: 2", []int{1, 3}, []string{"a: 1\n", "b: 2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docs := splitYAMLDocuments([]byte(tc.in))
			var lines []int
			var texts []string
			for _, d := range docs {
				lines = append(lines, d.line)
				texts = append(texts, string(d.data))
			}
			if !equalInts(lines, tc.lines) || strings.Join(texts, "|") != strings.Join(tc.docs, "|") {
				t.Errorf("got lines %v docs %q, want %v %q", lines, texts, tc.lines, tc.docs)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDecodeManifestErrors(t *testing.T) {
	const svc = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {clusterIP: None}\n"
	for _, tc := range []struct {
		name, file, in string
		want           string // the whole error
	}{
		{"first document", "f.yaml", "a: 1\nb: c: d\n", "f.yaml: line 2: yaml: mapping values are not allowed in this context"},
		{"third document", "f.yaml", svc + "---\n" + svc + "--- # x\n\n" + "a: [1,\n", "f.yaml: line 12: yaml: did not find expected node content"},
		{"error without a line", "f.yml", svc + "---\na: \"\x01\"\n", "f.yml: line 6: yaml: control characters are not allowed (in the document starting here)"},
		{"duplicate key", "f.yaml", svc + "---\na: 1\na: 2\n", `f.yaml: line 7: yaml: unmarshal errors: key "a" already set in map`},
		{"tab indentation", "f.yaml", svc + "---\na:\n\t- b\n", "f.yaml: line 7: yaml: found character that cannot start any token"},
		{"json", "f.json", "{\"a\": 1}\n{\n  \"b\": ,\n}\n", "f.json: line 3: json: invalid character ',' looking for beginning of value"},
		{"json truncated", "f.json", "{\"a\":\n1\n", "f.json: line 3: json: unexpected EOF"},
		{"scalar document", "f.yaml", svc + "---\n\n# c\njust text\n", "f.yaml: line 8: document is not an object (a manifest must be a mapping with apiVersion and kind)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := decodeManifest(tc.file, []byte(tc.in), manifestFilter{}, nil)
			if err == nil || err.Error() != tc.want {
				t.Errorf("got  %v\nwant %s", err, tc.want)
			}
		})
	}
}

// A typed List as the API server returns it (kubectl get --raw, curl)
// leaves apiVersion and kind out of its items: they are the List's item
// type. An item of a v1 List must still name its own.
func TestDecodeTypedListItemsWithoutKind(t *testing.T) {
	const services = `{"kind":"ServiceList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[
 {"metadata":{"name":"db","namespace":"shop"},"spec":{"clusterIP":"10.96.0.7","clusterIPs":["10.96.0.7"],"ports":[{"name":"pg","port":5432}]}}]}
`
	const slices = `apiVersion: discovery.k8s.io/v1
kind: EndpointSliceList
items:
- metadata: {name: db-1, namespace: shop, labels: {kubernetes.io/service-name: db}}
  addressType: IPv4
  endpoints: [{addresses: [10.1.0.7]}]
`
	const plain = `{"kind":"List","apiVersion":"v1","items":[{"metadata":{"name":"db","namespace":"shop"},"spec":{"clusterIP":"None"}}]}`
	for _, tc := range []struct {
		file, in string
		want     []manifestKey
	}{
		{"svcs.json", services, []manifestKey{{manifestKindService, "shop", "db"}}},
		{"slices.yaml", slices, []manifestKey{{manifestKindSlice, "shop", "db-1"}}},
		{"list.json", plain, nil},
	} {
		objs, notes, err := decodeManifest(tc.file, []byte(tc.in), manifestFilter{}, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		var got []manifestKey
		for _, o := range objs {
			got = append(got, o.key)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: objects %v, want %v (notices %+v)", tc.file, got, tc.want, notes)
		}
		if tc.want == nil && len(notes) != 1 {
			t.Errorf("%s: an item of a v1 List without kind made notices %+v, want one", tc.file, notes)
		}
	}
}

// An object in a List is reported, and served, at its own line: kubectl
// get -o yaml always prints a List, and every error in it said line 1.
func TestDecodeListItemsAtTheirLines(t *testing.T) {
	const yamlList = `# exported
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: good, namespace: shop}
  spec: {clusterIP: 10.96.0.7}
- apiVersion: v1
  kind: Service
  metadata: {name: bad, namespace: shop}
  spec: {clusterIP: 10.96.0.300}
`
	const jsonList = `{"apiVersion": "v1", "kind": "List", "metadata": {"x": [1, {"items": []}]},
 "items": [
  {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "good", "namespace": "shop"},
   "spec": {"clusterIP": "10.96.0.7"}},

  {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "bad", "namespace": "shop"},
   "spec": {"clusterIP": "10.96.0.300"}}
 ]}
`
	for _, tc := range []struct {
		file, in  string
		good, bad int
	}{
		{"list.yaml", yamlList, 5, 9},
		{"list.json", "\n" + jsonList, 4, 7},
		{"two.yaml", "# first\n---\n" + yamlList, 7, 11},
	} {
		objs, notes, err := decodeManifest(tc.file, []byte(tc.in), manifestFilter{}, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if len(objs) != 1 || objs[0].line != tc.good {
			t.Errorf("%s: objects %+v, want good at line %d", tc.file, objs, tc.good)
		}
		var bad []int
		for _, n := range notes {
			if n.err != nil {
				bad = append(bad, n.line)
			}
		}
		if !equalInts(bad, []int{tc.bad}) {
			t.Errorf("%s: invalid objects at lines %v, want [%d] (notices %+v)", tc.file, bad, tc.bad, notes)
		}
	}
}
