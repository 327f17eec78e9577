package watch

import "github.com/slicedns/slicedns/zone"

// Sink is what sources feed. *zone.Zone is the Sink every source uses in
// slicedns; the interface lets a program observe or filter the stream.
type Sink interface {
	UpsertService(*zone.Service) error
	DeleteService(namespace, name string)
	UpsertSlice(*zone.Slice) error
	DeleteSlice(namespace, name string)
}

var _ Sink = (*zone.Zone)(nil)
