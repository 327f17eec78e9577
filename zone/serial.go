package zone

import "time"

// The SOA serial tells a secondary server whether the zone changed since
// it last transferred it. What must never happen is a secondary told it is
// current while it holds older data: holding serial v, it must not find v
// to be the zone's serial (Serial, what SOA queries and IXFR compare with)
// unless it holds the zone as it is. A serial is the second the zone last
// changed, in Unix time, as CoreDNS has it; it never goes back while the
// process runs. Several changes share a second, so the serial a secondary
// is handed to keep (HandOutSerial: a transfer's SOA, a NOTIFY) is the
// zone's only once its second is over, when no later change can have it;
// until then it is one less, below every later Serial, which only makes
// the secondary ask again. Should a change still land in a second whose
// serial went out (the clock stepped back, or a writer read it just
// before), it gets one more than that. A snapshot's second also counts as
// over a second after it was published, by the monotonic clock, so a
// clock stepped back holds nothing up. The serial so keeps to the clock,
// and a restarted server, starting from its clock, is not behind the
// serials it handed out before.

// States of Snapshot.seen.
const (
	serialOpen   = iota // not handed out
	serialSeen          // handed out: a successor needs a greater serial
	serialReused        // a successor has the same serial
)

// Serial is the zone's SOA serial, as SOA answers carry it and as a
// secondary's serial is compared with. What a secondary is given to keep
// is HandOutSerial.
func (s *Snapshot) Serial() uint32 { return s.serial }

// HandOutSerial returns the serial a secondary is to keep with s's data
// (a zone transfer's SOA, a NOTIFY): s's serial once its second is over
// and no change has taken the same serial, else one less. It is safe for
// concurrent use.
func (s *Snapshot) HandOutSerial() uint32 {
	return s.handOut(uint32(time.Now().Unix()), time.Since(s.stored) >= time.Second)
}

// handOut is HandOutSerial at wall-clock second now; aged reports that a
// second has passed since s was published.
func (s *Snapshot) handOut(now uint32, aged bool) uint32 {
	if s.seen == nil { // the zero Snapshot
		return s.serial
	}
	// The state settles a race with the change that replaces s in s's
	// second: whichever moves it first wins (nextSerial).
	if (newer(now, s.serial) || aged) && (s.seen.CompareAndSwap(serialOpen, serialSeen) || s.seen.Load() == serialSeen) {
		return s.serial
	}
	return s.serial - 1
}

// nextSerial is the serial of the snapshot that replaces prev, now.
func nextSerial(prev *Snapshot, now uint32) uint32 {
	if newer(now, prev.serial) {
		return now
	}
	if prev.seen.CompareAndSwap(serialOpen, serialReused) {
		return prev.serial // its second is not over: nobody holds it
	}
	return prev.serial + 1
}

// newer reports whether serial a is greater than b in RFC 1982 arithmetic.
func newer(a, b uint32) bool { return int32(a-b) > 0 }

// SerialNewer reports whether serial a is greater than b in RFC 1982
// arithmetic, as a secondary compares them.
func SerialNewer(a, b uint32) bool { return newer(a, b) }
