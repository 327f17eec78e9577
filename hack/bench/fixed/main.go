//go:build linux

// Command fixed is a DNS responder that answers every query with one fixed A
// record, reading nothing of the query but its header: the ceiling of a Go
// UDP serving loop on this machine, to compare slicedns's throughput with.
//
// Like slicedns's UDP server it opens one SO_REUSEPORT socket per core, each
// read by one goroutine that writes its replies itself. The reply is the
// query with QR and AA set and an A record appended that points back at the
// question name. A query with anything after its question (EDNS0 OPT,
// dnsperf -e) gets the header only, no answer: the responder does not parse
// where the question ends.
//
// It prints "listening ADDR" on stdout once its sockets are bound. It is
// built for Linux, where the bench runs.
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "UDP `address` to listen on; port 0 picks one")
	flag.Parse()
	conns, err := listen(*addr, runtime.GOMAXPROCS(0))
	if err != nil {
		fmt.Fprintf(os.Stderr, "fixed: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("listening %s\n", conns[0].LocalAddr())
	for _, c := range conns {
		go serve(c)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	for _, c := range conns {
		c.Close()
	}
}

func listen(addr string, n int) ([]*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		})
		return errors.Join(err, serr)
	}}
	var conns []*net.UDPConn
	for range n {
		pc, err := lc.ListenPacket(context.Background(), "udp", addr)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, err
		}
		conns = append(conns, pc.(*net.UDPConn))
		addr = pc.LocalAddr().String() // the same port for the rest
	}
	return conns, nil
}

// answer is the A record appended to each reply: a pointer to the question
// name at offset 12, type A, class IN, TTL 5, 192.0.2.1 (documentation range).
var answer = []byte{0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 192, 0, 2, 1}

func serve(c *net.UDPConn) {
	buf := make([]byte, 65535)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		// Too short for a header and a question, or already a response.
		if n < 17 || buf[2]&0x80 != 0 {
			continue
		}
		buf[2] |= 0x84 // QR, AA
		buf[3] &= 0x70 // keep RA=0, Z, AD/CD; RCODE 0
		msg := buf[:n]
		if binary.BigEndian.Uint16(buf[6:]) == 0 && binary.BigEndian.Uint16(buf[8:]) == 0 && binary.BigEndian.Uint16(buf[10:]) == 0 && n+len(answer) <= len(buf) {
			// Only a question: it ends where the packet does.
			msg = append(msg, answer...)
			binary.BigEndian.PutUint16(msg[6:], 1)
		}
		c.WriteToUDPAddrPort(msg, from)
	}
}
