//go:build !linux || !cgo || nonvml

package collector

import (
	"context"

	"github.com/proofgrid/proofgrid"
)

// defaultGPUDriver has no driver in builds without NVML (static binaries,
// non-Linux hosts), so such agents report no GPUs and no error.
func defaultGPUDriver() GPUDriver { return noGPUDriver{} }

type noGPUDriver struct{}

func (noGPUDriver) Init() error { return ErrNoDriver }

func (noGPUDriver) Devices(context.Context) ([]proofgrid.GPU, error) { return []proofgrid.GPU{}, nil }

func (noGPUDriver) Shutdown() error { return nil }
