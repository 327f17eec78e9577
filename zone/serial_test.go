package zone_test

import (
	"sync"
	"testing"
	"time"

	"github.com/slicedns/slicedns/zone"
)

// TestSerialHandedOutIsNeverReused: once a snapshot's serial is handed out,
// the next change gets a greater one, even within the same second, so a
// secondary that asks "changed since serial N?" is never told no when it
// did. Changes nobody was told of share the second's serial, so the serial
// does not run ahead of the clock however busy the zone is.
func TestSerialHandedOutIsNeverReused(t *testing.T) {
	z := build(t, headless("default", "db"))
	change := func(i int) {
		feed(t, z, slice("default", "s", "db", zone.IPv4, cql, ep("db-0", true, "10.0.0.1"), ep("db-1", i%2 == 0, "10.0.0.2")))
	}
	start := uint32(time.Now().Unix())
	for i := range 2000 {
		change(i)
	}
	if s, now := z.Snapshot().Serial(), uint32(time.Now().Unix()); s < start || s > now {
		t.Errorf("after 2000 changes nobody was told of: serial %d, clock %d to %d", s, start, now)
	}

	for i := range 50 {
		told := z.Snapshot().HandOutSerial()
		change(i)
		if s := z.Snapshot().HandOutSerial(); !zone.SerialNewer(s, told) {
			t.Fatalf("change %d: serial %d after %d was handed out", i, s, told)
		}
	}
	if lead := int64(z.Snapshot().Serial()) - time.Now().Unix(); lead > 51 {
		t.Errorf("serial %d s ahead of the clock after 50 hand-outs", lead)
	}

	// A snapshot replaced under its own serial (nobody had it) hands out
	// one less: it is older than the zone with that serial.
	old := z.Snapshot()
	change(0)
	if cur := z.Snapshot(); cur.Serial() == old.Serial() && old.HandOutSerial() != cur.HandOutSerial()-1 {
		t.Errorf("a superseded snapshot handed out %d, the current one %d", old.HandOutSerial(), cur.HandOutSerial())
	}

	// A held batch publishes one snapshot; an unchanged write publishes none.
	z.Hold()
	prev := z.Snapshot()
	told := prev.HandOutSerial()
	feed(t, z, headless("default", "a"), headless("default", "b"))
	if z.Snapshot() != prev {
		t.Error("held writes were published")
	}
	z.Release()
	if s := z.Snapshot().Serial(); !zone.SerialNewer(s, told) {
		t.Errorf("after Release: serial %d, %d handed out before", s, told)
	}
	prev = z.Snapshot()
	feed(t, z, headless("default", "a"))
	if z.Snapshot() != prev {
		t.Error("an unchanged Service published a snapshot")
	}
}

// TestSerialHandOutRacesWrites: hand-outs racing writes never see one
// serial for two zones: for every pair of snapshots handed out under the
// same serial, they are the same snapshot.
func TestSerialHandOutRacesWrites(t *testing.T) {
	z := build(t, headless("default", "db"))
	var mu sync.Mutex
	bySerial := map[uint32]*zone.Snapshot{}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				snap := z.Snapshot()
				s := snap.HandOutSerial()
				mu.Lock()
				if other, ok := bySerial[s]; ok && other != snap && other.Serial() == s && snap.Serial() == s {
					t.Errorf("serial %d handed out for two snapshots", s)
				}
				if snap.Serial() == s {
					bySerial[s] = snap
				}
				mu.Unlock()
			}
		})
	}
	for i := range 5000 {
		feed(t, z, slice("default", "s", "db", zone.IPv4, cql, ep("db-0", true, "10.0.0.1"), ep("db-1", i%2 == 0, "10.0.0.2")))
	}
	close(stop)
	wg.Wait()
}
