package scale_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
)

// The scale tests' world: a `flowstate dev --no-examples` process and a scaleworker process,
// both built without the race detector, on free ports of 127.0.0.1.
var (
	address   string // the server's frontend
	flowstate string // the flowstate binary
	c         client.Client
)

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "flowstate-scale-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	flowstate = filepath.Join(dir, "flowstate")
	worker := filepath.Join(dir, "scaleworker")
	for bin, pkg := range map[string]string{flowstate: "../../cmd/flowstate", worker: "./scaleworker"} {
		// -trimpath, as the other tests that build flowstate do: they share the compiled server.
		if out, err := exec.Command("go", "build", "-trimpath", "-o", bin, pkg).CombinedOutput(); err != nil {
			return 0, fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	address = fmt.Sprintf("127.0.0.1:%d", port)

	dev := exec.Command(flowstate, "dev", "--headless", "--no-examples", "--port", fmt.Sprint(port))
	devOut, err := dev.StdoutPipe()
	if err != nil {
		return 0, err
	}
	dev.Stderr = os.Stderr
	if err := dev.Start(); err != nil {
		return 0, err
	}
	defer stop(dev)
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(devOut)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Press Ctrl-C to stop.") {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(2 * time.Minute):
		return 0, fmt.Errorf("flowstate dev did not get ready")
	}

	w := exec.Command(worker)
	w.Env = append(os.Environ(), "TEMPORAL_ADDRESS="+address, "TEMPORAL_NAMESPACE=default")
	w.Stdout, w.Stderr = os.Stderr, os.Stderr
	if err := w.Start(); err != nil {
		return 0, err
	}
	defer stop(w)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err = client.DialContext(ctx, client.Options{HostPort: address, Namespace: "default"})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return m.Run(), nil
}

// stop interrupts a process and waits for it.
func stop(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
	}
}
