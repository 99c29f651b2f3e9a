package main

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Process measurements. The Temporal server runs in this process beside the workers, so every
// figure here is the whole process's: server, workers and the benchmark's client together. The
// benchmark reports the server's own share where it can be isolated (an idle server, before any
// worker starts) and otherwise compares rows, which share the server alike.

// procStatusKB returns a field of /proc/self/status in KiB ("VmRSS", "VmHWM"), or 0 when it
// cannot be read (not Linux).
func procStatusKB(field string) int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	prefix := []byte(field + ":")
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, prefix) {
			continue
		}
		f := bytes.Fields(line[len(prefix):])
		if len(f) == 0 {
			return 0
		}
		v, _ := strconv.ParseInt(string(f[0]), 10, 64)
		return v
	}
	return 0
}

// resetPeakRSS resets the kernel's peak RSS mark (VmHWM) to the current RSS (Linux ≥ 4.0). It
// reports whether it could.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// settle collects garbage and returns freed memory to the OS, so that every row starts from the
// same resident set, not from what the previous row left behind.
func settle() {
	runtime.GC()
	debug.FreeOSMemory()
}

// cpuTime returns the process's user plus system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// heapAllocs returns the bytes allocated on the Go heap since the process started.
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// rssSampler samples VmRSS while a batch runs, for kernels where VmHWM cannot be reset.
type rssSampler struct {
	stop chan struct{}
	done sync.WaitGroup
	max  int64
}

func startRSSSampler(every time.Duration) *rssSampler {
	s := &rssSampler{stop: make(chan struct{}), max: procStatusKB("VmRSS")}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.max = max(s.max, procStatusKB("VmRSS"))
			}
		}
	}()
	return s
}

// peakKB stops the sampler and returns the highest RSS it saw, in KiB.
func (s *rssSampler) peakKB() int64 {
	close(s.stop)
	s.done.Wait()
	return max(s.max, procStatusKB("VmRSS"))
}

// machineBusy returns the CPU time all processes of the machine have used (user, nice, system,
// irq, softirq, steal), from /proc/stat, or 0 when it cannot be read.
func machineBusy() time.Duration {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := bytes.Cut(raw, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 8 || string(f[0]) != "cpu" {
		return 0
	}
	var ticks int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		if i >= 8 { // guest time is already counted in user time
			break
		}
		n, _ := strconv.ParseInt(string(v), 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

// clockTicks is USER_HZ, the unit of /proc/stat: 100 on every Linux architecture Go supports.
const clockTicks = 100
