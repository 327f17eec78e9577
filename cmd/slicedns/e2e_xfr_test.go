package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// transfer runs dig for a zone transfer, whose records dig prints without a
// section header, and returns them whitespace-normalised.
func (inst *instance) transfer(t *testing.T, args ...string) digResult {
	t.Helper()
	r := inst.dig(t, args...)
	for _, line := range strings.Split(r.raw, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, ";") {
			r.answer = append(r.answer, strings.Join(strings.Fields(line), " "))
		}
	}
	return r
}

// TestDigZoneTransfer: with --allow-transfer, dig axfr gets the whole zone
// framed by its SOA, and a change shows in the next transfer under a greater
// serial; without it, transfers are refused.
func TestDigZoneTransfer(t *testing.T) {
	needDig(t)
	dir := copyDemo(t)
	inst := start(t, "--manifests", dir, "--allow-transfer", "127.0.0.0/8,::1")
	// A transfer in the second of a change hands out one serial less (the
	// zone may change again in that second): wait for the load's second to
	// end, so that this transfer's serial is the zone's.
	time.Sleep(1100 * time.Millisecond)

	r := inst.transfer(t, "cluster.local", "AXFR")
	if len(r.answer) < 10 {
		t.Fatalf("AXFR gave %d records:\n%s", len(r.answer), r.raw)
	}
	first, last := strings.Fields(r.answer[0]), strings.Fields(r.answer[len(r.answer)-1])
	if first[3] != "SOA" || !slices.Equal(first, last) {
		t.Fatalf("transfer framed by %q ... %q", r.answer[0], r.answer[len(r.answer)-1])
	}
	for _, want := range []string{
		"my-db-0.my-db.default.svc.cluster.local. 5 IN A 10.42.1.10",
		"_cql._tcp.my-db.default.svc.cluster.local. 5 IN SRV 0 50 9042 my-db-1.my-db.default.svc.cluster.local.",
		"web.shop.svc.cluster.local. 5 IN A 10.96.0.20",
	} {
		if !slices.Contains(r.answer, want) {
			t.Errorf("no %q in the transfer:\n%s", want, r.raw)
		}
	}
	if strings.Contains(r.raw, "my-db-2.") {
		t.Errorf("the not-ready my-db-2 was transferred:\n%s", r.raw)
	}
	if got := inst.awaitLogged(t, "zone transfer", 1, 5*time.Second); got[0]["zone"] != "cluster.local." {
		t.Errorf("transfer logged as %v", got[0])
	}
	serial := first[6]

	// A secondary at this serial is current, until the folder changes.
	if r := inst.transfer(t, "cluster.local", "IXFR="+serial); len(r.answer) != 1 || strings.Fields(r.answer[0])[6] != serial {
		t.Errorf("IXFR at the current serial: %q", r.answer)
	}
	web, err := os.ReadFile(filepath.Join(dir, "web.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.ReplaceAll(string(web), "10.96.0.20", "10.96.0.21")
	if changed == string(web) {
		t.Fatal("web.yaml no longer holds 10.96.0.20")
	}
	if err := os.WriteFile(filepath.Join(dir, "web.yaml"), []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := inst.transfer(t, "cluster.local", "IXFR="+serial)
		// Once the change's second is over, its serial goes out with it.
		if slices.Contains(r.answer, "web.shop.svc.cluster.local. 5 IN A 10.96.0.21") && strings.Fields(r.answer[0])[6] > serial {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the change never reached a transfer:\n%s", r.raw)
		}
		time.Sleep(100 * time.Millisecond)
	}

	closed := start(t, "--manifests", dir)
	if r := closed.transfer(t, "cluster.local", "AXFR"); len(r.answer) != 0 || !strings.Contains(r.raw, "Transfer failed") {
		t.Errorf("transfer without --allow-transfer:\n%s", r.raw)
	}
}

// TestNotifySecondary: with --notify, a secondary hears of the zone at start
// and of each change, with the serial a transfer then gets.
func TestNotifySecondary(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	serials := make(chan uint32, 16)
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			m := new(mdns.Msg)
			if m.Unpack(buf[:n]) != nil || m.Opcode != mdns.OpcodeNotify || len(m.Answer) != 1 {
				continue
			}
			if soa, ok := m.Answer[0].(*mdns.SOA); ok && m.Question[0].Name == "cluster.local." {
				serials <- soa.Serial
			}
			r := new(mdns.Msg)
			r.SetReply(m)
			b, _ := r.Pack()
			pc.WriteTo(b, from)
		}
	}()
	next := func(what string) uint32 {
		select {
		case s := <-serials:
			return s
		case <-time.After(10 * time.Second):
			t.Fatalf("no NOTIFY %s", what)
			return 0
		}
	}
	dir := copyDemo(t)
	inst := start(t, "--manifests", dir, "--allow-transfer", "127.0.0.1", "--notify", pc.LocalAddr().String())
	first := next("at start")
	if err := os.Remove(filepath.Join(dir, "web.yaml")); err != nil {
		t.Fatal(err)
	}
	// NOTIFYs follow until one tells of a zone without web.shop; the
	// transfer it prompts is at the serial it announced.
	for {
		serial := next("after web.yaml was removed")
		if !(int32(serial-first) > 0) {
			continue
		}
		r := inst.transfer(t, "cluster.local", "AXFR")
		if got := strings.Fields(r.answer[0])[6]; got != fmt.Sprint(serial) {
			continue // a later change, or the second turned: the next NOTIFY says
		}
		if !strings.Contains(r.raw, "web.shop") {
			return
		}
	}
}
