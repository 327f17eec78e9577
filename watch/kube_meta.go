package watch

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// kubeMeta is what a kubeStore remembers of an object: its key
// ("namespace/name") and resourceVersion, in one string.
type kubeMeta struct {
	s              string // namespace "/" name resourceVersion
	nsEnd, nameEnd uint32
}

func metaOf(m *metav1.ObjectMeta) kubeMeta {
	return newKubeMeta(m.Namespace, m.Name, m.ResourceVersion)
}

func newKubeMeta(namespace, name, resourceVersion string) kubeMeta {
	return kubeMeta{s: namespace + "/" + name + resourceVersion,
		nsEnd: uint32(len(namespace)), nameEnd: uint32(len(namespace) + 1 + len(name))}
}

// key is client-go's key of the object, "namespace/name".
func (m *kubeMeta) key() string { return m.s[:m.nameEnd] }

func (m *kubeMeta) GetNamespace() string       { return m.s[:m.nsEnd] }
func (m *kubeMeta) GetName() string            { return m.s[m.nsEnd+1 : m.nameEnd] }
func (m *kubeMeta) GetResourceVersion() string { return m.s[m.nameEnd:] }
