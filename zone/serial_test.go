package zone_test

import (
	"sync"
	"testing"
	"time"

	"github.com/slicedns/slicedns/zone"
)

// secondary is what a secondary server holds: the serial it was handed and
// the snapshot whose data it got with it.
type secondary struct {
	serial uint32
	snap   *zone.Snapshot
}

// current reports whether a secondary holding h would be told it is up to
// date: its serial is not older than the zone's.
func current(z *zone.Zone, h secondary) bool {
	return !zone.SerialNewer(z.Snapshot().Serial(), h.serial)
}

// TestSerialNeverStrandsASecondary: secondaries taking the zone while it
// changes many times a second are told they are current only when they
// hold the zone as it is, and the serial keeps to the clock however busy
// the zone and however many ask. The changes start early in a second and
// run past the next, so some hand-outs share a second with later changes.
func TestSerialNeverStrandsASecondary(t *testing.T) {
	z := build(t, headless("default", "db"))
	change := func(i int) {
		feed(t, z, slice("default", "s", "db", zone.IPv4, cql, ep("db-0", true, "10.0.0.1"), ep("db-1", i%2 == 0, "10.0.0.2")))
	}
	time.Sleep(time.Until(time.Unix(time.Now().Unix()+1, 100e6)))
	var held []secondary
	var wg sync.WaitGroup
	var mu sync.Mutex
	stop := make(chan struct{})
	wg.Go(func() { // a secondary asking all the time, beside the ones below
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			snap := z.Snapshot()
			h := secondary{snap.HandOutSerial(), snap}
			if n%64 == 0 {
				mu.Lock()
				held = append(held, h)
				mu.Unlock()
			}
		}
	})
	deadline := time.Now().Add(1200 * time.Millisecond)
	for i := 0; time.Now().Before(deadline); i++ {
		snap := z.Snapshot()
		h := secondary{snap.HandOutSerial(), snap}
		mu.Lock()
		held = append(held, h)
		mu.Unlock()
		change(i)
	}
	close(stop)
	wg.Wait()
	// Early in a second: a change, a hand-out of it, and another change.
	time.Sleep(time.Until(time.Unix(time.Now().Unix()+1, 100e6)))
	feed(t, z, headless("default", "late-1"))
	snap := z.Snapshot()
	held = append(held, secondary{snap.HandOutSerial(), snap})
	feed(t, z, headless("default", "late-2"))
	if lead := int64(z.Snapshot().Serial()) - time.Now().Unix(); lead > 1 {
		t.Errorf("the serial is %d s ahead of the clock after %d hand-outs", lead, len(held))
	}
	final := z.Snapshot()
	stranded := 0
	for _, h := range held {
		if current(z, h) && h.snap != final {
			stranded++
		}
	}
	if stranded > 0 {
		t.Errorf("%d of %d secondaries would be told they are current while holding an older zone", stranded, len(held))
	}
	// Once the second is over the zone's own serial goes out.
	time.Sleep(time.Until(time.Unix(int64(final.Serial())+1, 0)))
	if s := final.HandOutSerial(); s != final.Serial() {
		t.Errorf("after its second: handed out %d, serial %d", s, final.Serial())
	}
}

// TestSerialAfterHandOut: a change in the second whose serial was handed out
// (as when the writer read the clock just before the hand-out) gets a
// greater serial; a restarted zone starts from its clock, not behind.
func TestSerialAfterHandOut(t *testing.T) {
	z := build(t, headless("default", "db"))
	// Wait for a second whose serial can go out, then hand it out.
	time.Sleep(time.Until(time.Unix(int64(z.Snapshot().Serial())+1, 0)))
	snap := z.Snapshot()
	if s := snap.HandOutSerial(); s != snap.Serial() {
		t.Fatalf("handed out %d for serial %d after its second", s, snap.Serial())
	}
	feed(t, z, headless("default", "a"))
	if !zone.SerialNewer(z.Snapshot().Serial(), snap.Serial()) {
		t.Errorf("a change after a hand-out kept serial %d", snap.Serial())
	}
	if fresh := zone.New().Snapshot().Serial(); zone.SerialNewer(z.Snapshot().Serial(), fresh+1) {
		t.Errorf("a fresh zone's serial %d is behind %d", fresh, z.Snapshot().Serial())
	}

	// A held batch publishes one snapshot; an unchanged write publishes none.
	z.Hold()
	prev := z.Snapshot()
	feed(t, z, headless("default", "b"))
	if z.Snapshot() != prev {
		t.Error("held writes were published")
	}
	z.Release()
	if z.Snapshot() == prev || zone.SerialNewer(prev.Serial(), z.Snapshot().Serial()) {
		t.Error("Release published nothing, or a serial going back")
	}
	prev = z.Snapshot()
	feed(t, z, headless("default", "a"))
	if z.Snapshot() != prev {
		t.Error("an unchanged Service published a snapshot")
	}
}
