// Command probe waits for a slicedns started with --log-format json to come
// up: it follows the server's log file until the "serving" line, then asks
// the DNS address for NAME's A record every few milliseconds until the answer
// holds WANT.
//
// It prints one line, "DNS_ADDR HTTP_ADDR SERVING_NS ANSWERED_NS": the bound
// addresses and the Unix times, in nanoseconds, at which the serving line was
// seen and the first correct answer came back. It exits 1 after -timeout.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
)

func main() {
	logPath := flag.String("log", "", "the server's log `file` (JSON lines)")
	name := flag.String("name", "", "the `name` to ask for")
	want := flag.String("want", "", "the `address` the A answer must hold")
	timeout := flag.Duration("timeout", 2*time.Minute, "give up after this long")
	flag.Parse()
	if err := run(*logPath, *name, *want, *timeout); err != nil {
		fmt.Fprintf(os.Stderr, "probe: %v\n", err)
		os.Exit(1)
	}
}

func run(logPath, name, want string, timeout time.Duration) error {
	wantIP, err := netip.ParseAddr(want)
	if err != nil {
		return fmt.Errorf("-want: %v", err)
	}
	deadline := time.Now().Add(timeout)
	dnsAddr, httpAddr, err := waitServing(logPath, deadline)
	if err != nil {
		return err
	}
	serving := time.Now()

	c := &mdns.Client{Net: "udp", Timeout: 100 * time.Millisecond}
	q := new(mdns.Msg)
	q.SetQuestion(mdns.Fqdn(name), mdns.TypeA)
	last := "no answer"
	for time.Now().Before(deadline) {
		r, _, err := c.Exchange(q, dnsAddr)
		switch {
		case err != nil:
			last = err.Error()
		case r.Rcode != mdns.RcodeSuccess:
			last = "rcode " + mdns.RcodeToString[r.Rcode]
		default:
			for _, rr := range r.Answer {
				if a, ok := rr.(*mdns.A); ok {
					if ip, ok := netip.AddrFromSlice(a.A.To4()); ok && ip == wantIP {
						fmt.Printf("%s %s %d %d\n", dnsAddr, httpAddr, serving.UnixNano(), time.Now().UnixNano())
						return nil
					}
				}
			}
			last = fmt.Sprintf("answer without %s: %v", want, r.Answer)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer %s with %s in %v; last: %s", dnsAddr, name, want, timeout, last)
}

// waitServing follows the log until the "serving" line and returns its addresses.
func waitServing(path string, deadline time.Time) (string, string, error) {
	var f *os.File
	for {
		var err error
		if f, err = os.Open(path); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return "", "", err
		}
		time.Sleep(5 * time.Millisecond)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var partial string
	for time.Now().Before(deadline) {
		line, err := r.ReadString('\n')
		if errors.Is(err, io.EOF) {
			partial += line // an unfinished line: wait for the rest
			time.Sleep(5 * time.Millisecond)
			continue
		}
		if err != nil {
			return "", "", err
		}
		line, partial = partial+line, ""
		var l struct {
			Msg      string `json:"msg"`
			Level    string `json:"level"`
			DNSAddr  string `json:"dns_addr"`
			HTTPAddr string `json:"http_addr"`
			Error    string `json:"error"`
		}
		if json.Unmarshal([]byte(line), &l) != nil {
			continue // not a log line (a panic, a plain message)
		}
		if l.Msg == "serving" {
			return l.DNSAddr, l.HTTPAddr, nil
		}
		if l.Level == "fatal" || l.Msg == "exiting" {
			return "", "", fmt.Errorf("server exited: %s", strings.TrimSpace(line))
		}
	}
	return "", "", errors.New(`no "serving" line in ` + path + " before the timeout")
}
