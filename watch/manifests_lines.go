package watch

import (
	"bytes"
	"encoding/json"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// A List's items carry no position once converted to JSON, so every error
// in `kubectl get -o yaml` output (always a List) would name the List's
// first line. These find each item's line in the document's own text, for
// List documents only: other documents never pay for the second parse.

// yamlItemLines returns the line of each element of the top-level "items"
// sequence of a YAML document that starts on line first, or nil.
func yamlItemLines(doc []byte, first int) []int {
	var root yaml.Node
	if yaml.Unmarshal(doc, &root) != nil || len(root.Content) == 0 {
		return nil
	}
	m := root.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != "items" || m.Content[i+1].Kind != yaml.SequenceNode {
			continue
		}
		var lines []int
		for _, it := range m.Content[i+1].Content {
			lines = append(lines, first+it.Line-1)
		}
		return lines
	}
	return nil
}

// jsonItemLines returns the line of each element of the top-level "items"
// array of a JSON value that starts on line first, or nil.
func jsonItemLines(value []byte, first int) []int {
	dec := json.NewDecoder(bytes.NewReader(value))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil
		}
		if key != "items" {
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return nil
			}
			continue
		}
		if t, err := dec.Token(); err != nil || t != json.Delim('[') {
			return nil
		}
		var lines []int
		for dec.More() {
			// The decoder stands after the previous token: the element
			// starts past the whitespace and comma that follow it.
			off := dec.InputOffset()
			for off < int64(len(value)) && strings.IndexByte(" \t\r\n,", value[off]) >= 0 {
				off++
			}
			lines = append(lines, first+bytes.Count(value[:off], []byte("\n")))
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return nil
			}
		}
		return lines
	}
	return nil
}
