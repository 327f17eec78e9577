package dns

import (
	"runtime"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// cacheAnswer is a typical upstream answer: a CNAME to a CDN, two
// addresses, OPT.
func cacheAnswer(tb testing.TB, name string) (q, resp *mdns.Msg) {
	tb.Helper()
	q = new(mdns.Msg)
	q.SetQuestion(name, mdns.TypeA)
	q.SetEdns0(1232, false)
	resp = new(mdns.Msg)
	resp.SetReply(q)
	resp.RecursionAvailable = true
	for _, s := range []string{name + " 300 IN CNAME " + name + "cdn.cloudflare.net.", name + "cdn.cloudflare.net. 300 IN A 104.16.1.1", name + "cdn.cloudflare.net. 300 IN A 104.16.2.2"} {
		rr, err := mdns.NewRR(s)
		if err != nil {
			tb.Fatal(err)
		}
		resp.Answer = append(resp.Answer, rr)
	}
	resp.SetEdns0(1232, false)
	return q, resp
}

// TestForwardCachePut: an answer to another question is not kept, one kept
// again replaces the first (one entry), and a full shard gives up an
// expired entry before a live one.
func TestForwardCachePut(t *testing.T) {
	c := newForwardCache(2, time.Hour, nil)
	now := time.Unix(1e9, 0)
	c.now = func() time.Time { return now }
	q, resp := cacheAnswer(t, "www.example.org.")
	other, _ := cacheAnswer(t, "other.example.org.")
	c.put(other, resp)
	if len(c.shards) != 1 || len(c.shards[0].entries) != 0 {
		t.Fatalf("kept an answer to another question: %d shards, %v", len(c.shards), c.shards[0].entries)
	}
	c.put(q, resp)
	c.put(q, resp)
	if n := len(c.shards[0].entries); n != 1 {
		t.Errorf("%d entries for one question", n)
	}
	// A short-lived entry, then a third name: the expired one goes.
	short, sresp := cacheAnswer(t, "short.example.org.")
	sresp.Answer[0].Header().Ttl = 5
	c.put(short, sresp)
	now = now.Add(10 * time.Second)
	third, tresp := cacheAnswer(t, "third.example.org.")
	c.put(third, tresp)
	if c.get(q) == nil || c.get(third) == nil || c.get(short) != nil {
		t.Errorf("after evicting: %v", c.shards[0].entries)
	}
	// An answer too large to keep.
	big, bresp := cacheAnswer(t, "big.example.org.")
	for i := range 20 {
		rr, _ := mdns.NewRR("big.example.org. 60 IN TXT " + strings.Repeat("x", 200) + itoa(i))
		bresp.Answer = append(bresp.Answer, rr)
	}
	c = newForwardCache(2, time.Hour, nil)
	if c.put(big, bresp); c.get(big) != nil {
		t.Errorf("kept a %d-record answer", len(bresp.Answer))
	}
}

// BenchmarkForwardCacheHit is a hit as kept: the answer packed, unpacked
// for each hit.
func BenchmarkForwardCacheHit(b *testing.B) {
	c := newForwardCache(0, 0, nil)
	q, resp := cacheAnswer(b, "www.example.org.")
	c.put(q, resp)
	b.ReportAllocs()
	for b.Loop() {
		if c.get(q) == nil {
			b.Fatal("miss")
		}
	}
}

// BenchmarkForwardCacheHitMsg is the alternative: the *mdns.Msg kept,
// copied for each hit (the lookup itself left out).
func BenchmarkForwardCacheHitMsg(b *testing.B) {
	_, resp := cacheAnswer(b, "www.example.org.")
	b.ReportAllocs()
	for b.Loop() {
		m := resp.Copy()
		for _, rr := range m.Answer {
			rr.Header().Ttl--
		}
	}
}

// TestForwardCacheMemory logs what an entry takes as kept (packed) and as
// a *mdns.Msg; go test -v -run ForwardCacheMemory shows it.
func TestForwardCacheMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("a measurement")
	}
	const n = 10000
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	c := newForwardCache(n, time.Hour, nil)
	qs := make([]*mdns.Msg, n)
	for i := range qs {
		qs[i], _ = cacheAnswer(t, "www"+string(rune('a'+i%26))+itoa(i)+".example.org.")
	}
	base := heap()
	for _, q := range qs {
		_, resp := cacheAnswer(t, q.Question[0].Name)
		c.put(q, resp)
	}
	packed := heap()
	type msgEntry struct {
		m      *mdns.Msg
		stored time.Time
		ttl    uint32
	}
	msgs := make(map[cacheKey]msgEntry)
	for _, q := range qs {
		_, resp := cacheAnswer(t, q.Question[0].Name)
		k, _ := keyOf(q)
		msgs[k] = msgEntry{m: resp.Copy(), ttl: 300}
	}
	asMsg := heap()
	t.Logf("per entry, key and map included: %d bytes packed, %d bytes as *mdns.Msg", (packed-base)/n, (asMsg-packed)/n)
	runtime.KeepAlive(msgs)
	runtime.KeepAlive(c)
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// TestForwardCacheKeepsOnlyTheAnswer: an entry holds the packed answer
// alone. Pack's buffer is as large as the message uncompressed, 15 times
// the answer for one that compresses well: kept, 10,000 entries of 3.5 KB
// would take half a gigabyte.
func TestForwardCacheKeepsOnlyTheAnswer(t *testing.T) {
	c := newForwardCache(64, time.Hour, nil)
	long := strings.Repeat("a", 60) + "." + strings.Repeat("b", 60) + ".example.org."
	q, resp := cacheAnswer(t, long)
	for i := range 40 { // one long name 40 times: compression makes it small
		rr, err := mdns.NewRR(long + " 300 IN TXT \"" + itoa(i) + "\"")
		if err != nil {
			t.Fatal(err)
		}
		resp.Answer = append(resp.Answer, rr)
	}
	c.put(q, resp)
	for i := range c.shards {
		for _, e := range c.shards[i].entries {
			if cap(e.wire) > 2*len(e.wire) { // an allocation's size class, no more
				t.Errorf("entry of %d bytes holds a buffer of %d", len(e.wire), cap(e.wire))
			}
			return
		}
	}
	t.Fatal("the answer was not kept")
}
