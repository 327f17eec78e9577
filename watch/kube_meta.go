package watch

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// kubeMeta is what a kubeStore keeps of an object while a watch-list
// streams in, and the key and version it remembers after: namespace, name
// and resourceVersion, in one string. It implements metav1.Object so that
// client-go's key functions take it without an allocation per call; the
// fields it does not keep read as empty and ignore writes.
type kubeMeta struct {
	s              string // namespace "/" name resourceVersion
	nsEnd, nameEnd uint32
}

var _ metav1.Object = (*kubeMeta)(nil)

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
func (m *kubeMeta) SetNamespace(namespace string) {
	*m = newKubeMeta(namespace, m.GetName(), m.GetResourceVersion())
}
func (m *kubeMeta) SetName(name string) {
	*m = newKubeMeta(m.GetNamespace(), name, m.GetResourceVersion())
}
func (m *kubeMeta) SetResourceVersion(version string) {
	*m = newKubeMeta(m.GetNamespace(), m.GetName(), version)
}

// What kubeMeta does not keep.

func (*kubeMeta) GetGenerateName() string                       { return "" }
func (*kubeMeta) SetGenerateName(string)                        {}
func (*kubeMeta) GetUID() types.UID                             { return "" }
func (*kubeMeta) SetUID(types.UID)                              {}
func (*kubeMeta) GetGeneration() int64                          { return 0 }
func (*kubeMeta) SetGeneration(int64)                           {}
func (*kubeMeta) GetSelfLink() string                           { return "" }
func (*kubeMeta) SetSelfLink(string)                            {}
func (*kubeMeta) GetCreationTimestamp() metav1.Time             { return metav1.Time{} }
func (*kubeMeta) SetCreationTimestamp(metav1.Time)              {}
func (*kubeMeta) GetDeletionTimestamp() *metav1.Time            { return nil }
func (*kubeMeta) SetDeletionTimestamp(*metav1.Time)             {}
func (*kubeMeta) GetDeletionGracePeriodSeconds() *int64         { return nil }
func (*kubeMeta) SetDeletionGracePeriodSeconds(*int64)          {}
func (*kubeMeta) GetLabels() map[string]string                  { return nil }
func (*kubeMeta) SetLabels(map[string]string)                   {}
func (*kubeMeta) GetAnnotations() map[string]string             { return nil }
func (*kubeMeta) SetAnnotations(map[string]string)              {}
func (*kubeMeta) GetFinalizers() []string                       { return nil }
func (*kubeMeta) SetFinalizers([]string)                        {}
func (*kubeMeta) GetOwnerReferences() []metav1.OwnerReference   { return nil }
func (*kubeMeta) SetOwnerReferences([]metav1.OwnerReference)    {}
func (*kubeMeta) GetManagedFields() []metav1.ManagedFieldsEntry { return nil }
func (*kubeMeta) SetManagedFields([]metav1.ManagedFieldsEntry)  {}
