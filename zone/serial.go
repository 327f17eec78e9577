package zone

import "time"

// The SOA serial tells a secondary server (or anyone comparing) whether the
// zone changed since it last looked: two different zones must never be
// handed out under one serial, or a secondary that holds the first is told
// it is current while it serves stale data. A serial is the second the zone
// changed, in Unix time, as CoreDNS has it, with one refinement: when the
// serial of the zone being replaced was handed out (to a secondary, through
// HandOutSerial) in the same second, the change gets that serial plus one.
// The serial thus runs ahead of the clock only by the hand-outs a second,
// a few at most (a secondary's SOA query, a transfer, a NOTIFY), and a
// restarted server, starting from its clock, is not behind what it handed
// out before, as a counter of every change would be after a busy day.

// States of Snapshot.seen.
const (
	serialOpen   = iota // not handed out
	serialSeen          // handed out: a successor needs a greater serial
	serialReused        // a successor has the same serial: this one is older
)

// Serial is the zone's SOA serial, as negative answers carry it. What a
// secondary is told, to compare later, is HandOutSerial.
func (s *Snapshot) Serial() uint32 { return s.serial }

// HandOutSerial returns the serial for a secondary (a SOA query at the
// apex, a zone transfer, a NOTIFY) and makes the next change, should it
// come within the same second, take a greater one. If a change has already
// replaced s under the same serial, it returns one less: s is older than
// the zone with that serial. It is safe for concurrent use.
func (s *Snapshot) HandOutSerial() uint32 {
	if s.seen == nil { // the zero Snapshot
		return s.serial
	}
	if s.seen.CompareAndSwap(serialOpen, serialSeen) || s.seen.Load() == serialSeen {
		return s.serial
	}
	return s.serial - 1
}

// nextSerial is the serial of the snapshot that replaces prev at t.
func nextSerial(prev *Snapshot, t time.Time) uint32 {
	if now := uint32(t.Unix()); newer(now, prev.serial) {
		return now
	}
	if prev.seen.CompareAndSwap(serialOpen, serialReused) {
		return prev.serial // nobody saw it, and now nobody will
	}
	return prev.serial + 1
}

// newer reports whether serial a is greater than b in RFC 1982 arithmetic.
func newer(a, b uint32) bool { return int32(a-b) > 0 }

// SerialNewer reports whether serial a is greater than b in RFC 1982
// arithmetic, as a secondary compares them.
func SerialNewer(a, b uint32) bool { return newer(a, b) }
