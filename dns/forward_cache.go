package dns

import (
	"bytes"
	"hash/maphash"
	"strings"
	"sync"
	"time"

	mdns "github.com/miekg/dns"
)

// Defaults of ForwarderOptions.CacheSize and CacheTTL.
const (
	DefaultCacheSize = 10000
	DefaultCacheTTL  = 30 * time.Second
)

// maxCacheEntry bounds an answer kept, packed: larger ones (big TXT sets,
// up to 64 KB over TCP) are passed on but not kept, so that the default
// 10,000 entries stay within about 45 MB however large the answers.
const maxCacheEntry = 4096

// forwardCache keeps the upstreams' answers for a while, as CoreDNS's cache
// plugin does in the default Corefile (cache 30): the clients' resolvers
// (glibc, musl) do not cache, so without it every pod's every outside
// lookup reaches the upstreams, which cloud resolvers rate-limit.
//
// Entries are the answers packed (compressed wire format), not the
// *mdns.Msg: a typical answer (a CNAME, two A records, OPT) is then one
// pointer-free 144-byte allocation, where as a Msg it is about 415 bytes
// in a dozen objects the GC must scan; with the key and the map, an entry
// takes 380 bytes against 530 (TestForwardCacheMemory). The size packed
// is also what maxCacheEntry bounds. The price is the hit: unpacking
// takes 1.7-2µs and 19 allocations, a Msg's Copy 0.3µs and 8
// (BenchmarkForwardCacheHit*, 2-core VM), both far below an upstream's
// round trip.
//
// Entries are spread over shards, each a mutex and a map, so that
// concurrent queries seldom wait on one another; every operation is O(1).
// Expired entries are dropped when looked up or when a full shard needs
// room; no goroutine or timer runs per entry.
type forwardCache struct {
	maxTTL   uint32 // seconds
	perShard int
	seed     maphash.Seed
	shards   []cacheShard
	now      func() time.Time
	m        *ForwardMetrics
}

type cacheShard struct {
	mu      sync.Mutex
	entries map[cacheKey]cacheEntry
	_       [48]byte // a cache line each: the shards' locks do not contend through it
}

// cacheKey is what an answer depends on: the name (lower-cased), type and
// class asked, the DO and CD bits (DNSSEC records; validation), and whether
// the query had EDNS: an answer to one without has no OPT, and a client that
// sent one must get one back (RFC 6891 7).
type cacheKey struct {
	name          string
	qtype, qclass uint16
	do, cd, edns  bool
}

type cacheEntry struct {
	wire   []byte
	stored time.Time
	ttl    uint32 // seconds from stored
}

// age is the whole seconds since e was stored, and whether it is still
// live at now: an entry whose time is up is gone.
func (e *cacheEntry) age(now time.Time) (age uint32, live bool) {
	d := now.Sub(e.stored)
	if d < 0 {
		d = 0
	}
	secs := d / time.Second
	if secs >= time.Duration(e.ttl) {
		return 0, false
	}
	return uint32(secs), true
}

// newForwardCache returns a cache of size entries for at most maxTTL, or
// nil (no cache) when either is negative; zero ones get the defaults.
func newForwardCache(size int, maxTTL time.Duration, m *ForwardMetrics) *forwardCache {
	if size < 0 || maxTTL < 0 {
		return nil
	}
	if size == 0 {
		size = DefaultCacheSize
	}
	if maxTTL == 0 {
		maxTTL = DefaultCacheTTL
	}
	// Sixteen shards, fewer for a small cache: each holds size/shards at
	// most, so the whole never holds more than size.
	n := 16
	for n > 1 && size/n < 64 {
		n /= 2
	}
	c := &forwardCache{
		maxTTL: uint32(max(maxTTL/time.Second, 1)), perShard: size / n,
		seed: maphash.MakeSeed(), shards: make([]cacheShard, n), now: time.Now, m: m,
	}
	for i := range c.shards {
		c.shards[i].entries = make(map[cacheKey]cacheEntry)
	}
	return c
}

func keyOf(r *mdns.Msg) (cacheKey, bool) {
	if len(r.Question) != 1 {
		return cacheKey{}, false
	}
	q := r.Question[0]
	k := cacheKey{name: strings.ToLower(q.Name), qtype: q.Qtype, qclass: q.Qclass, cd: r.CheckingDisabled}
	if opt := r.IsEdns0(); opt != nil {
		k.do, k.edns = opt.Do(), true
	}
	return k, true
}

func (c *forwardCache) shard(k *cacheKey) *cacheShard {
	return &c.shards[maphash.String(c.seed, k.name)%uint64(len(c.shards))]
}

// get returns the answer to r if one is kept: a message of its own, with
// r's question as asked (case and all: 0x20), every TTL less the seconds
// since it was stored, and AA clear. A nil cache has nothing.
func (c *forwardCache) get(r *mdns.Msg) *mdns.Msg {
	if c == nil {
		return nil
	}
	k, ok := keyOf(r)
	if !ok {
		return nil
	}
	now := c.now()
	s := c.shard(&k)
	s.mu.Lock()
	e, found := s.entries[k]
	age, live := e.age(now)
	if found && !live {
		delete(s.entries, k)
		c.m.cacheEntries(-1)
	}
	s.mu.Unlock()
	if !found || !live {
		c.m.cacheLookup(false)
		return nil
	}
	m := new(mdns.Msg)
	if err := m.Unpack(e.wire); err != nil || len(m.Question) != 1 {
		c.m.cacheLookup(false)
		return nil // cannot be: it was packed from a message
	}
	m.Question[0] = r.Question[0]
	m.Authoritative = false // from a cache, as CoreDNS's (RFC 1035 6.1)
	// No record outlives its entry, as with CoreDNS's cache: a negative
	// answer's SOA (TTL 3600, MINIMUM 30) or an answer capped at the
	// cache's 30s would otherwise be kept longer downstream than here.
	left := e.ttl - age
	for _, sec := range [][]mdns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			if h := rr.Header(); h.Rrtype != mdns.TypeOPT {
				h.Ttl = min(h.Ttl-min(h.Ttl, age), left)
			}
		}
	}
	c.m.cacheLookup(true)
	return m
}

// put keeps resp, an upstream's answer to r, if it may be cached, for
// cacheTTL.
func (c *forwardCache) put(r, resp *mdns.Msg) {
	if c == nil {
		return
	}
	k, ok := keyOf(r)
	// A query without RD may be answered from the upstream's cache alone
	// (a CNAME without its target): not an answer for those that recurse.
	if !ok || !r.RecursionDesired || answersQuestion(r, resp) != nil {
		return
	}
	ttl := min(cacheTTL(resp), c.maxTTL)
	if ttl == 0 {
		return
	}
	compress := resp.Compress
	resp.Compress = true
	wire, err := resp.Pack()
	resp.Compress = compress
	if err != nil || len(wire) > maxCacheEntry {
		return
	}
	// Pack's buffer is as large as the message uncompressed (53 KB for a
	// 3.5 KB answer): keeping it would undo the entry bound.
	e := cacheEntry{wire: bytes.Clone(wire), stored: c.now(), ttl: ttl}
	s := c.shard(&k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, replaced := s.entries[k]; !replaced {
		if len(s.entries) >= c.perShard {
			s.evict(e.stored)
			c.m.cacheEntries(-1)
		}
		c.m.cacheEntries(1)
	}
	s.entries[k] = e
}

// evict drops an entry of the full shard: an expired one among the first
// few the map yields, else the first (map order is random: an arbitrary
// entry).
func (s *cacheShard) evict(now time.Time) {
	var victim cacheKey
	n := 0
	for k, e := range s.entries {
		if n == 0 {
			victim = k
		}
		if _, live := e.age(now); !live {
			victim = k
			break
		}
		if n++; n == 8 {
			break
		}
	}
	delete(s.entries, victim)
}

// cacheTTL is how long resp may be kept, in seconds; 0: not at all.
// Answers (NOERROR with records) are kept for the smallest TTL of their
// Answer and Authority records, and an SOA's MINIMUM among them; negative
// answers (NXDOMAIN, and NOERROR without records: NODATA) the same (RFC
// 2308 5: the SOA's TTL or MINIMUM, the smaller, or less if a CNAME before
// it has less), and not without an SOA. Other rcodes (SERVFAIL, REFUSED,
// ...), truncated answers and TTLs of 2^31 or more are not kept.
func cacheTTL(resp *mdns.Msg) uint32 {
	if resp.Truncated || (resp.Rcode != mdns.RcodeSuccess && resp.Rcode != mdns.RcodeNameError) {
		return 0
	}
	negative := resp.Rcode == mdns.RcodeNameError || len(resp.Answer) == 0
	ttl, soa := uint32(1<<31-1), false
	for _, sec := range [][]mdns.RR{resp.Answer, resp.Ns} {
		for _, rr := range sec {
			h := rr.Header()
			if h.Rrtype == mdns.TypeOPT {
				continue
			}
			if h.Ttl >= 1<<31 {
				return 0 // RFC 2181 8: to be taken as zero
			}
			ttl = min(ttl, h.Ttl)
			// Also after a CNAME (a NOERROR with records: NODATA for the
			// type asked at the chain's end), an SOA's MINIMUM bounds it.
			if s, ok := rr.(*mdns.SOA); ok {
				soa = true
				ttl = min(ttl, s.Minttl)
			}
		}
	}
	if negative && !soa {
		return 0
	}
	return ttl
}
