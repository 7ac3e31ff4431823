// Package collectortest provides fakes for code that uses package collector,
// so tests can describe GPUs without an NVIDIA driver.
package collectortest

import (
	"context"
	"slices"
	"sync"

	"github.com/proofgrid/proofgrid"
)

// GPUDriver is a fake collector.GPUDriver. Change its fields only between
// collections: a Set's Collect returns after the driver calls it made.
type GPUDriver struct {
	mu sync.Mutex
	// InitErr is returned by Init; wrap collector.ErrNoDriver in it to
	// describe a machine without a driver.
	InitErr error
	// GPUs is returned by Devices, copied so that callers cannot alter it.
	GPUs []proofgrid.GPU
	// DevicesErr is returned by Devices alongside GPUs.
	DevicesErr error

	inits, shutdowns int
}

// Init counts the call and returns InitErr.
func (d *GPUDriver) Init() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.inits++
	return d.InitErr
}

// Devices returns a copy of GPUs, never nil, and DevicesErr.
func (d *GPUDriver) Devices(context.Context) ([]proofgrid.GPU, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]proofgrid.GPU, len(d.GPUs))
	for i, g := range d.GPUs {
		g.ThrottleReasons = slices.Clone(g.ThrottleReasons)
		g.Unsupported = slices.Clone(g.Unsupported)
		out[i] = g
	}
	return out, d.DevicesErr
}

// Shutdown counts the call.
func (d *GPUDriver) Shutdown() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.shutdowns++
	return nil
}

// Calls returns how many times Init and Shutdown were called.
func (d *GPUDriver) Calls() (inits, shutdowns int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.inits, d.shutdowns
}
