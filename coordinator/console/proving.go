package console

import (
	"fmt"
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/storage"
)

// gridBlocks is how many blocks one page of the proving grid shows.
const gridBlocks = 20

type gridCell struct {
	State   string // queued, proving, proved or missing
	Time    *int64
	Verdict string
}

type gridRow struct {
	Block storage.Block
	Cells []gridCell
}

type provingData struct {
	Clusters []storage.Cluster
	Rows     []gridRow
	Pager    pager
	GridURL  string
}

func (c *Console) provingPage(ctx *fiber.Ctx, v *visit) error {
	d, err := c.provingData(ctx, v)
	if err != nil {
		return err
	}
	return c.render(ctx, fiber.StatusOK, "proving", pageData{Title: "Proving", Nav: "proving", Visit: v, Data: d})
}

// provingGrid is the grid alone, which the page polls.
func (c *Console) provingGrid(ctx *fiber.Ctx, v *visit) error {
	d, err := c.provingData(ctx, v)
	if err != nil {
		return err
	}
	return c.renderFragment(ctx, "proving", "grid", pageData{Visit: v, Data: d})
}

func (c *Console) provingData(ctx *fiber.Ctx, v *visit) (provingData, error) {
	rctx := ctx.UserContext()
	clusters, err := c.cfg.DB.ConsoleClusters(rctx, v.Scope())
	if err != nil {
		return provingData{}, err
	}
	page, _ := c.pageOf(ctx)
	blocks, total, err := c.cfg.DB.RecentBlocks(rctx, gridBlocks, (page-1)*gridBlocks)
	if err != nil {
		return provingData{}, err
	}
	d := provingData{Clusters: clusters}
	u := requestURL(ctx)
	u.Path = Prefix + "/proving"
	size := c.cfg.PageSize
	c.cfg.PageSize = gridBlocks // the grid pages by block
	d.Pager = c.newPager(u, page, total)
	c.cfg.PageSize = size
	d.GridURL = fmt.Sprintf("%s/proving/grid?page=%d", Prefix, page)
	numbers := make([]int64, len(blocks))
	for i, b := range blocks {
		numbers[i] = b.Number
	}
	ids := make([]string, len(clusters))
	for i, cl := range clusters {
		ids[i] = cl.ID
	}
	proofs, err := c.cfg.DB.ProofsOfBlocks(rctx, numbers, ids)
	if err != nil {
		return provingData{}, err
	}
	type key struct {
		block   int64
		cluster string
	}
	// The newest cluster version's proof wins: it is what the cluster
	// runs now.
	byCell := map[key]storage.Proof{}
	for _, p := range proofs {
		byCell[key{p.BlockNumber, p.ClusterID}] = p
	}
	for _, b := range blocks {
		row := gridRow{Block: b, Cells: make([]gridCell, len(clusters))}
		for i, cl := range clusters {
			p, ok := byCell[key{b.Number, cl.ID}]
			if !ok {
				row.Cells[i] = gridCell{State: "missing"}
				continue
			}
			cell := gridCell{State: p.Status, Time: p.ProvingTimeMS}
			if p.Verification != nil {
				cell.Verdict = *p.Verification
			}
			row.Cells[i] = cell
		}
		d.Rows = append(d.Rows, row)
	}
	return d, nil
}

type clusterData struct {
	Cluster   storage.Cluster
	Proved    int
	Median    *int64
	P90       *int64
	Histogram Histogram
	Missed    []int64
	Recent    []storage.Proof
}

// clusterProofs bounds the proofs a cluster page reads.
const clusterProofs = 500

func (c *Console) clusterPage(ctx *fiber.Ctx, v *visit) error {
	rctx := ctx.UserContext()
	cl, err := c.cfg.DB.ClusterByID(rctx, ctx.Params("id"))
	if err != nil || (v.Scope() != 0 && cl.TeamID != v.Scope()) {
		if err == nil || proofgrid.ErrorCode(err) == proofgrid.ENOTFOUND || proofgrid.ErrorCode(err) == proofgrid.EINVALID {
			return proofgrid.Errorf(proofgrid.ENOTFOUND, "cluster %q not found", ctx.Params("id"))
		}
		return err
	}
	proofs, err := c.cfg.DB.ClusterProofs(rctx, cl.ID, clusterProofs)
	if err != nil {
		return err
	}
	d := clusterData{Cluster: cl}
	var times []int64
	for _, p := range proofs {
		if p.Status == storage.ProofProved && p.ProvingTimeMS != nil {
			times = append(times, *p.ProvingTimeMS)
		}
	}
	d.Proved = len(times)
	d.Histogram = provingHistogram(times)
	if len(times) > 0 {
		slices.Sort(times)
		m, p90 := times[len(times)/2], times[min(len(times)-1, len(times)*9/10)]
		d.Median, d.P90 = &m, &p90
	}
	if d.Missed, err = c.cfg.DB.MissedBlocks(rctx, cl.ID, cl.CreatedAt, 50); err != nil {
		return err
	}
	d.Recent = proofs[:min(len(proofs), 20)]
	return c.render(ctx, fiber.StatusOK, "cluster", pageData{Title: "Cluster " + cl.Name, Nav: "proving", Visit: v, Data: d})
}

// provingHistogram buckets proving times (ms) by powers of two seconds
// below a second, and up to 10 min and more.
func provingHistogram(ms []int64) Histogram {
	bounds := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 15 * time.Second,
		30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute}
	h := Histogram{Title: "Proving time distribution", Counts: make([]int, len(bounds)+1)}
	for _, b := range bounds {
		h.Labels = append(h.Labels, "≤"+shortDuration(b))
	}
	h.Labels = append(h.Labels, ">"+shortDuration(bounds[len(bounds)-1]))
	for _, v := range ms {
		d := time.Duration(v) * time.Millisecond
		i, _ := slices.BinarySearch(bounds, d)
		h.Counts[i]++
	}
	return h
}

func shortDuration(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%ds", int(d.Seconds()))
	}
	return fmt.Sprintf("%dm", int(d.Minutes()))
}
