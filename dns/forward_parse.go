package dns

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"

	mdns "github.com/miekg/dns"
)

// ParseUpstreams turns --upstream values into "host:port" addresses. Each
// spec is an address (10.0.0.10, 10.0.0.10:53, 2001:db8::1,
// [2001:db8::1]:53), a comma-separated list of them, or the path of a
// resolv.conf file, whose nameservers are taken.
func ParseUpstreams(specs []string) ([]string, error) {
	var out []string
	for _, spec := range specs {
		for _, s := range strings.Split(spec, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			if strings.ContainsRune(s, '/') || fileExists(s) {
				cc, err := mdns.ClientConfigFromFile(s)
				if err != nil {
					return nil, fmt.Errorf("upstream %s: %w", s, err)
				}
				if len(cc.Servers) == 0 {
					return nil, fmt.Errorf("upstream %s: no nameserver in it", s)
				}
				for _, srv := range cc.Servers {
					a, err := hostPort(srv, cc.Port)
					if err != nil {
						return nil, fmt.Errorf("upstream %s: %w", s, err)
					}
					out = append(out, a)
				}
				continue
			}
			a, err := hostPort(s, "53")
			if err != nil {
				return nil, err
			}
			out = append(out, a)
		}
	}
	return out, nil
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// hostPort accepts an IP address with or without a port. Names are refused:
// resolving them would need the DNS being configured.
func hostPort(s, defPort string) (string, error) {
	port, err := strconv.ParseUint(defPort, 10, 16)
	if err != nil {
		return "", fmt.Errorf("upstream %q: port %q", s, defPort)
	}
	ap, err := addrPort(s, uint16(port))
	switch {
	case errors.Is(err, errPortZero):
		return "", fmt.Errorf("upstream %q: port 0", s)
	case err != nil:
		return "", fmt.Errorf("upstream %q: want an IP address, IP:port, [IPv6]:port or a resolv.conf path", s)
	}
	return ap.String(), nil
}

var errPortZero = errors.New("port 0")

// addrPort reads an IP address with a port, or without one (port is then
// defPort): 10.0.0.10, 10.0.0.10:53, 2001:db8::1, [2001:db8::1]:53.
func addrPort(s string, defPort uint16) (netip.AddrPort, error) {
	if ip, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(ip, defPort), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err == nil && ap.Port() == 0 {
		err = errPortZero
	}
	return ap, err
}
