package watch

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
)

// yamlDocument is one YAML document of a file and the line it starts on.
type yamlDocument struct {
	line int
	data []byte
}

// splitYAMLDocuments cuts a YAML stream at its "---" lines, remembering where each
// document starts: sigs.k8s.io/yaml parses one document at a time and
// numbers lines from that document's start.
func splitYAMLDocuments(data []byte) []yamlDocument {
	var docs []yamlDocument
	start, startLine, line := 0, 1, 1
	for off := 0; off < len(data); line++ {
		next := len(data)
		if nl := bytes.IndexByte(data[off:], '\n'); nl >= 0 {
			next = off + nl + 1
		}
		if isYAMLSeparator(data[off:next]) {
			docs = append(docs, yamlDocument{line: startLine, data: data[start:off]})
			start, startLine = next, line+1
		}
		off = next
	}
	return append(docs, yamlDocument{line: startLine, data: data[start:]})
}

// isYAMLSeparator reports whether a line is a document separator, "---" alone or
// followed by a comment (as kubectl splits): a "---" at the start of a line
// cannot occur inside a document's content.
func isYAMLSeparator(line []byte) bool {
	rest, ok := bytes.CutPrefix(line, []byte("---"))
	if !ok {
		return false
	}
	rest = bytes.TrimSpace(rest)
	return len(rest) == 0 || rest[0] == '#'
}

// yamlContentLine is the line of a document's first line that is neither
// blank nor a comment: where a person sees the object start.
func yamlContentLine(doc yamlDocument) int {
	line := doc.line
	for rest := doc.data; len(rest) > 0; line++ {
		l, after, _ := bytes.Cut(rest, []byte("\n"))
		if t := bytes.TrimSpace(l); len(t) > 0 && t[0] != '#' {
			return line
		}
		rest = after
	}
	return doc.line
}

// yamlLineRE finds the line numbers that the YAML parser puts in its messages.
var yamlLineRE = regexp.MustCompile(`line (\d+)`)

// manifestYAMLError turns a YAML error about a document starting at docLine into a
// manifestParseError whose line numbers count from the start of the file.
func manifestYAMLError(path string, docLine int, err error) error {
	first := 0
	msg := yamlLineRE.ReplaceAllStringFunc(err.Error(), func(m string) string {
		n, _ := strconv.Atoi(strings.TrimPrefix(m, "line "))
		n += docLine - 1
		if first == 0 {
			first = n
		}
		return "line " + strconv.Itoa(n)
	})
	// Multi-line messages ("unmarshal errors:\n  line 2: ...") become one
	// line, so that they fit a log field and a fatal exit message.
	msg = strings.Join(strings.Fields(msg), " ")
	if first == 0 {
		return &manifestParseError{file: path, line: docLine, msg: msg + " (in the document starting here)"}
	}
	msg = strings.Replace(msg, "line "+strconv.Itoa(first)+": ", "", 1)
	return &manifestParseError{file: path, line: first, msg: msg}
}
