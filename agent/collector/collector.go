// Package collector fills a proofgrid.Sample from the machine the agent runs
// on, in the manner of node_exporter's collectors: one file per source, an
// explicit list of them, and a Set that runs each with its own timeout and
// merges what they report. A collector that fails or overruns becomes a
// proofgrid.CollectorError and the rest of the sample is kept. Missing
// hardware (no NVIDIA driver, say) is not a failure: the collector simply
// reports nothing.
//
// The built-in collectors, by name:
//
//   - host: hostname, OS, platform, kernel, uptime and boot time. OS,
//     platform and kernel are read once, on the first collection; no
//     collection after it starts a process.
//   - cpu: model, logical and physical cores (read once, on the first
//     collection), load averages, and usage of the whole machine from 0 to
//     100 (all cores together). Usage is busy time
//     (user, nice, system, irq, softirq, steal) over busy plus idle time
//     (idle, iowait), from the kernel's machine-wide counters in /proc/stat,
//     between two collections; guest time is already inside user and nice.
//     The first collection measures over 200ms, each later one covers the
//     time since the previous collection (the heartbeat interval).
//   - memory: RAM and swap; used RAM is total minus the kernel's
//     MemAvailable, as free(1) reports it.
//   - disk: usage of every real filesystem, one entry per device; kernel,
//     memory-backed, image and network filesystems are skipped, the root
//     filesystem never is (overlay in a container).
//   - network: bytes per second summed over all interfaces but loopback.
//   - diskio: bytes per second summed over whole physical disks, without
//     partitions, loop, RAM or device-mapper devices.
//   - gpu: every NVIDIA GPU through NVML (see GPUDriver).
//
// Rates are averaged since the previous collection using Config.Now and are
// zero on the first one; a counter that goes backwards (reset, wrap) counts
// as zero growth.
package collector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/proofgrid/proofgrid"
)

// DefaultTimeout bounds one collector's Update when Config.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// Collector reads one kind of data into a sample. Update writes only the
// fields it owns into s, which starts out zero for every call, and returns an
// error only for a real failure, never for hardware that is absent. A Set
// never runs two Updates of the same collector at once, so collectors may keep
// state between calls (previous counters, say) without locking.
type Collector interface {
	// Name identifies the collector in CollectorErrors and in
	// Config.Collectors; it must be stable.
	Name() string
	// Update fills the collector's fields of s, honouring ctx where the
	// underlying reads allow it.
	Update(ctx context.Context, s *proofgrid.Sample) error
}

// Func returns a Collector called name whose Update is fn. It lets callers
// and tests add or replace a collector without declaring a type.
func Func(name string, fn func(ctx context.Context, s *proofgrid.Sample) error) Collector {
	return funcCollector{name: name, fn: fn}
}

type funcCollector struct {
	name string
	fn   func(context.Context, *proofgrid.Sample) error
}

func (c funcCollector) Name() string { return c.name }

func (c funcCollector) Update(ctx context.Context, s *proofgrid.Sample) error { return c.fn(ctx, s) }

// Config configures a Set. The zero value collects everything from the real
// machine with default timeouts.
type Config struct {
	// Timeout bounds each collector's Update; zero means DefaultTimeout.
	Timeout time.Duration
	// Now is the clock used for CollectedAt and for the rates of network and
	// disk I/O; nil means time.Now.
	Now func() time.Time
	// GPU is the driver the gpu collector reads; nil means NVML in builds
	// that include it and no GPUs otherwise.
	GPU GPUDriver
	// Collectors replace the built-in collector of the same name, or run
	// after the built-ins when the name is new.
	Collectors []Collector
	// Logger receives collector failures at debug level and GPU driver
	// changes at info level; nil discards them.
	Logger *slog.Logger
}

// Set runs a fixed list of collectors. Its methods are safe for concurrent
// use; Collect calls are serialised.
type Set struct {
	mu      sync.Mutex
	timeout time.Duration
	now     func() time.Time
	log     *slog.Logger
	entries []*entry
}

// entry pairs a collector with a one-slot semaphore that stays taken while an
// Update runs, including one the Set stopped waiting for after its timeout,
// so a stuck collector is never run twice at once nor piles up goroutines.
type entry struct {
	c    Collector
	busy chan struct{}
}

// New returns a Set of the built-in collectors, adjusted by cfg.
func New(cfg Config) *Set {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.GPU == nil {
		cfg.GPU = defaultGPUDriver()
	}
	list := []Collector{
		newHostCollector(),
		newCPUCollector(),
		newMemoryCollector(),
		newDiskCollector(),
		newNetworkCollector(cfg.Now),
		newDiskIOCollector(cfg.Now),
		newGPUCollector(cfg.GPU, cfg.Now, cfg.Logger),
	}
	for _, c := range cfg.Collectors {
		replaced := false
		for i := range list {
			if list[i].Name() == c.Name() {
				list[i], replaced = c, true
			}
		}
		if !replaced {
			list = append(list, c)
		}
	}
	s := &Set{timeout: cfg.Timeout, now: cfg.Now, log: cfg.Logger}
	for _, c := range list {
		s.entries = append(s.entries, &entry{c: c, busy: make(chan struct{}, 1)})
	}
	return s
}

// Names returns the names of the collectors in the order they are merged.
func (s *Set) Names() []string {
	names := make([]string, len(s.entries))
	for i, e := range s.entries {
		names[i] = e.c.Name()
	}
	return names
}

// Collect runs every collector concurrently and returns the merged sample.
// It always returns a sample: failures and timeouts are listed in
// CollectorErrors in collector order. Disks and GPUs are never nil.
func (s *Set) Collect(ctx context.Context) proofgrid.Sample {
	s.mu.Lock()
	defer s.mu.Unlock()

	out := proofgrid.Sample{CollectedAt: s.now(), Disks: []proofgrid.Disk{}, GPUs: []proofgrid.GPU{}}
	parts := make([]proofgrid.Sample, len(s.entries))
	errs := make([]error, len(s.entries))
	var wg sync.WaitGroup
	for i, e := range s.entries {
		wg.Go(func() { parts[i], errs[i] = s.run(ctx, e) })
	}
	wg.Wait()
	for i, e := range s.entries {
		merge(&out, &parts[i])
		if errs[i] != nil {
			s.log.Debug("collector failed", "collector", e.c.Name(), "error", errs[i])
			out.CollectorErrors = append(out.CollectorErrors, proofgrid.CollectorError{Collector: e.c.Name(), Error: errs[i].Error()})
		}
	}
	return out
}

var errStillRunning = errors.New("previous update still running")

// run calls one collector with its own deadline and returns what it wrote.
// The Update works on a private sample so that one abandoned after its
// deadline cannot race with the merge.
func (s *Set) run(ctx context.Context, e *entry) (proofgrid.Sample, error) {
	select {
	case e.busy <- struct{}{}:
	default:
		return proofgrid.Sample{}, errStillRunning
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()

	type result struct {
		part proofgrid.Sample
		err  error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			// A panicking collector must not take the agent down with it.
			if p := recover(); p != nil {
				r.err = fmt.Errorf("panic: %v", p)
			}
			<-e.busy
			done <- r
		}()
		r.err = e.c.Update(ctx, &r.part)
	}()
	select {
	case r := <-done:
		if r.err != nil && ctx.Err() != nil {
			// Finished, but because its context ended: say which way.
			return r.part, s.contextErr(ctx)
		}
		return r.part, r.err
	case <-ctx.Done():
		return proofgrid.Sample{}, s.contextErr(ctx)
	}
}

// contextErr describes why a collector's context ended: its own timeout, or
// the caller's cancellation or deadline.
func (s *Set) contextErr(ctx context.Context) error {
	if errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		return fmt.Errorf("timed out after %s", s.timeout)
	}
	return ctx.Err()
}

// merge copies into dst every part of src that a collector filled. Each
// collector owns distinct fields, so "filled" means non-zero.
func merge(dst, src *proofgrid.Sample) {
	if src.Host != (proofgrid.Host{}) {
		dst.Host = src.Host
	}
	if src.CPU != (proofgrid.CPU{}) {
		dst.CPU = src.CPU
	}
	if src.Memory != (proofgrid.Memory{}) {
		dst.Memory = src.Memory
	}
	if src.Disks != nil {
		dst.Disks = src.Disks
	}
	if src.Network != (proofgrid.NetworkIO{}) {
		dst.Network = src.Network
	}
	if src.DiskIO != (proofgrid.DiskIO{}) {
		dst.DiskIO = src.DiskIO
	}
	if src.GPUs != nil {
		dst.GPUs = src.GPUs
	}
	dst.CollectorErrors = append(dst.CollectorErrors, src.CollectorErrors...)
}

// Close releases what collectors hold (the NVML library, for one). It waits
// up to the Set's timeout for an Update still in flight and leaves a
// collector that does not finish by then unclosed.
func (s *Set) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, e := range s.entries {
		closer, ok := e.c.(io.Closer)
		if !ok {
			continue
		}
		select {
		case e.busy <- struct{}{}:
		case <-time.After(s.timeout):
			errs = append(errs, fmt.Errorf("%s: %w", e.c.Name(), errStillRunning))
			continue
		}
		if err := closer.Close(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", e.c.Name(), err))
		}
		<-e.busy
	}
	return errors.Join(errs...)
}
