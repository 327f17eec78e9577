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

// A Batcher is a Sink that can take a batch of writes and publish them at
// once (see zone.Zone.Hold). Sources hold it while they load their initial
// state, which is then built once and published whole; *zone.Zone is one.
type Batcher interface {
	Hold()
	Release()
}

var _ Batcher = (*zone.Zone)(nil)
