package devserver

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"syscall"
)

// ErrPortInUse is wrapped by the error Start returns when a port it was asked to use is taken.
var ErrPortInUse = errors.New("port in use")

// freePort returns a TCP port of ip that nothing listens on.
//
// Adapted from temporalio/cli (temporalcli/devserver/freeport.go, MIT, Copyright (c) Temporal
// Technologies Inc.): on Linux and the BSDs the port is also connected to and closed from the
// server side, which leaves it in TIME_WAIT so that the kernel does not hand it to another
// bind(:0) for a while, while an explicit bind (with SO_REUSEADDR, Go's default) still works.
func freePort(ip string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, fmt.Errorf("devserver: finding a free port on %s: %w", ip, err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		return port, nil
	}
	c, err := net.Dial("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return 0, fmt.Errorf("devserver: finding a free port on %s: %w", ip, err)
	}
	defer c.Close()
	sc, err := l.Accept()
	if err != nil {
		return 0, fmt.Errorf("devserver: finding a free port on %s: %w", ip, err)
	}
	sc.Close() // server side first: the TIME_WAIT lands on the port we keep
	return port, nil
}

// freePorts returns n distinct free ports of ip.
func freePorts(ip string, n int) ([]int, error) {
	ports := make([]int, 0, n)
	seen := map[int]bool{}
	for len(ports) < n {
		p, err := freePort(ip)
		if err != nil {
			return nil, err
		}
		if !seen[p] {
			seen[p] = true
			ports = append(ports, p)
		}
	}
	return ports, nil
}

// checkPortFree says, with ErrPortInUse, when something already listens on ip:port, and why
// ip:port cannot be listened on otherwise.
func checkPortFree(what, ip string, port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("devserver: %s port %d on %s: %w", what, port, ip, ErrPortInUse)
	}
	if err != nil {
		return fmt.Errorf("devserver: %s port %d on %s: %w", what, port, ip, err)
	}
	return l.Close()
}
