package zone

import (
	"sync/atomic"
	"testing"
	"time"
)

func snapAt(serial uint32, stored time.Time) *Snapshot {
	return &Snapshot{serial: serial, seen: new(atomic.Uint32), stored: stored}
}

// TestSerialCases drives handOut and nextSerial through the cases a
// secondary could be stranded in, with the clock as each case needs it. A
// secondary holding v is current when v is not older than Serial.
func TestSerialCases(t *testing.T) {
	old := time.Now().Add(-2 * time.Second)

	// Handed out after its second; the next change, in the next second.
	s := snapAt(100, old)
	if v := s.handOut(101, true); v != 100 {
		t.Fatalf("after its second: handed out %d", v)
	}
	c := snapAt(nextSerial(s, 101), time.Now())
	if c.serial != 101 || c.handOut(101, false) != 100 {
		t.Errorf("next second: serial %d, handed out %d", c.serial, c.handOut(101, false))
	}
	// The secondary holding (100, s) compares with c's serial: not current.
	if !newer(c.serial, 100) {
		t.Error("a secondary holding the older zone is told it is current")
	}

	// Two changes in one second, one less handed out in between.
	a := snapAt(200, time.Now())
	if v := a.handOut(200, false); v != 199 {
		t.Fatalf("in its second: handed out %d", v)
	}
	b := snapAt(nextSerial(a, 200), time.Now())
	if b.serial != 200 || !newer(b.serial, 199) {
		t.Errorf("a change in the same second: serial %d", b.serial)
	}

	// The clock steps back 50 s after a hand-out: the next change gets one
	// more, and once a second old its own serial goes out, so the change
	// after that gets one more again and a NOTIFY has news to tell.
	s = snapAt(300, old)
	s.handOut(301, true)
	c = snapAt(nextSerial(s, 251), old)
	if c.serial != 301 {
		t.Fatalf("after a step back: serial %d, want 301", c.serial)
	}
	if v := c.handOut(251, true); v != 301 {
		t.Errorf("a second after publishing, clock behind: handed out %d, want 301", v)
	}
	if d := nextSerial(c, 252); d != 302 {
		t.Errorf("the change after: serial %d, want 302", d)
	}
}
