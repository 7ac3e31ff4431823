package console

import (
	"fmt"
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/fleet"
	"github.com/proofgrid/proofgrid/storage"
)

// historyPoints bounds the points a machine page charts.
const historyPoints = 720

type machineData struct {
	Report      fleet.MachineReport
	Cluster     storage.Cluster
	Latest      string
	Charts      []Chart
	GPUCharts   []gpuCharts
	Transitions []storage.HealthTransition
	Points      int
}

type gpuCharts struct {
	Name   string
	Charts []Chart
}

func (c *Console) machinePage(ctx *fiber.Ctx, v *visit) error {
	rctx := ctx.UserContext()
	rep, err := c.cfg.Monitor.Machine(rctx, v.Scope(), ctx.Params("id"))
	if err != nil {
		return err
	}
	d := machineData{Report: rep, Latest: c.cfg.Monitor.Rules().AgentLatestVersion}
	if rep.Machine.ClusterID != "" {
		if cl, err := c.cfg.DB.ClusterByID(rctx, rep.Machine.ClusterID); err == nil {
			d.Cluster = cl
		}
	}
	points, err := c.cfg.DB.MachineMetrics(rctx, rep.ID, c.cfg.Now().Add(-historyWindow), historyPoints)
	if err != nil {
		return err
	}
	slices.Reverse(points) // oldest first
	d.Points = len(points)
	d.Charts, d.GPUCharts = machineCharts(points)
	if d.Transitions, err = c.cfg.Monitor.Transitions(rctx, v.Scope(), rep.ID, c.cfg.Now().Add(-30*historyWindow), 50); err != nil {
		return err
	}
	title := rep.Name
	if title == "" {
		title = rep.ID
	}
	return c.render(ctx, fiber.StatusOK, "machine", pageData{Title: "Machine " + title, Nav: "fleet", Visit: v, Data: d})
}

// machineCharts turns a machine's history (oldest first) into charts:
// CPU, memory, each disk, network, and per GPU its utilisation, memory,
// temperature, power and XID errors.
func machineCharts(points []storage.MetricPoint) ([]Chart, []gpuCharts) {
	times := make([]time.Time, 0, len(points))
	for _, p := range points {
		times = append(times, p.ReceivedAt)
	}
	series := func(f func(proofgrid.Sample) float64) []float64 {
		out := make([]float64, len(points))
		for i, p := range points {
			out[i] = f(p.Sample)
		}
		return out
	}
	charts := []Chart{
		{Title: "CPU", Unit: "%", Max: 100, Times: times, Series: []Series{{Name: "CPU", Values: series(func(s proofgrid.Sample) float64 { return s.CPU.UsagePercent })}}},
		{Title: "Memory", Unit: "%", Max: 100, Times: times, Series: []Series{{Name: "RAM", Values: series(func(s proofgrid.Sample) float64 { return s.Memory.Percent() })}}},
	}
	// Disks by mountpoint, in the order they first appear.
	var mounts []string
	for _, p := range points {
		for _, d := range p.Sample.Disks {
			if !slices.Contains(mounts, d.Mountpoint) {
				mounts = append(mounts, d.Mountpoint)
			}
		}
	}
	disk := Chart{Title: "Disks used", Unit: "%", Max: 100, Times: times}
	for _, m := range mounts {
		disk.Series = append(disk.Series, Series{Name: m, Values: series(func(s proofgrid.Sample) float64 {
			for _, d := range s.Disks {
				if d.Mountpoint == m {
					return d.UsedPercent
				}
			}
			return 0
		})})
	}
	if len(disk.Series) == 0 {
		disk.Series = []Series{{Name: "none reported", Values: make([]float64, len(points))}}
	}
	charts = append(charts, disk, Chart{Title: "Network", Unit: "B/s", Times: times, Series: []Series{
		{Name: "received", Values: series(func(s proofgrid.Sample) float64 { return s.Network.RxBytesPerSec })},
		{Name: "sent", Values: series(func(s proofgrid.Sample) float64 { return s.Network.TxBytesPerSec })},
	}})
	// GPUs by index.
	var gpus []int
	names := map[int]string{}
	for _, p := range points {
		for _, g := range p.Sample.GPUs {
			if !slices.Contains(gpus, g.Index) {
				gpus = append(gpus, g.Index)
			}
			names[g.Index] = g.Name
		}
	}
	slices.Sort(gpus)
	var out []gpuCharts
	for _, idx := range gpus {
		gpu := func(f func(proofgrid.GPU) float64) []float64 {
			return series(func(s proofgrid.Sample) float64 {
				for _, g := range s.GPUs {
					if g.Index == idx {
						return f(g)
					}
				}
				return 0
			})
		}
		out = append(out, gpuCharts{Name: fmt.Sprintf("GPU %d · %s", idx, names[idx]), Charts: []Chart{
			{Title: "Utilisation", Unit: "%", Max: 100, Times: times, Series: []Series{{Name: "SM", Values: gpu(func(g proofgrid.GPU) float64 { return float64(g.UtilizationPercent) })}}},
			{Title: "Memory used", Unit: "B", Times: times, Series: []Series{{Name: "memory", Values: gpu(func(g proofgrid.GPU) float64 { return float64(g.MemoryUsedBytes) })}}},
			{Title: "Temperature", Unit: "°C", Times: times, Series: []Series{{Name: "temperature", Values: gpu(func(g proofgrid.GPU) float64 { return float64(g.TemperatureC) })}}},
			{Title: "Power", Unit: "W", Times: times, Series: []Series{
				{Name: "draw", Values: gpu(func(g proofgrid.GPU) float64 { return g.PowerDrawWatts })},
				{Name: "limit", Values: gpu(func(g proofgrid.GPU) float64 { return g.PowerLimitWatts })},
			}},
			{Title: "XID errors", Unit: "", Times: times, Series: []Series{{Name: "XID errors", Values: gpu(func(g proofgrid.GPU) float64 { return float64(g.XIDErrors) })}}},
		}})
	}
	return charts, out
}
