package console

import (
	"encoding/hex"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/claims"
	"github.com/proofgrid/proofgrid/storage"
)

type rewardsData struct {
	Checkpoints   []storage.PsyCheckpoint
	Selected      *storage.PsyCheckpoint
	Distributions []storage.PsyDistribution
	Account       string
	Entries       []storage.LedgerEntry
	Pager         pager
}

// rewardsPage lists reward checkpoints by id, one checkpoint's
// distributions (?checkpoint=) and one account's ledger (?account=).
// Rewards are global facts, like the API's reward routes.
func (c *Console) rewardsPage(ctx *fiber.Ctx, v *visit) error {
	rctx := ctx.UserContext()
	page, _ := c.pageOf(ctx)
	size := int64(c.cfg.PageSize)
	from := int64(page-1)*size + 1
	cps, err := c.cfg.DB.PsyCheckpoints(rctx, from, from+size-1, int(size))
	if err != nil {
		return err
	}
	d := rewardsData{Checkpoints: cps, Account: ctx.Query("account")}
	// The total is unknown without a count; a full page has a next one.
	total := from - 1 + int64(len(cps))
	if int64(len(cps)) == size {
		total++
	}
	d.Pager = c.newPager(requestURL(ctx), page, total)
	if id, err := strconv.ParseInt(ctx.Query("checkpoint"), 10, 64); err == nil {
		cp, err := c.cfg.DB.PsyCheckpoint(rctx, id)
		if err != nil {
			return err
		}
		d.Selected = &cp
		if d.Distributions, err = c.cfg.DB.PsyDistributions(rctx, id); err != nil {
			return err
		}
	}
	if d.Account != "" {
		a, err := claims.ParseAccount(d.Account)
		if err != nil {
			return err
		}
		if d.Entries, err = c.cfg.DB.LedgerEntries(rctx, a.Bytes, c.cfg.PageSize); err != nil {
			return err
		}
	}
	return c.render(ctx, fiber.StatusOK, "rewards", pageData{Title: "Rewards", Nav: "rewards", Visit: v, Data: d})
}

type epochRow struct {
	storage.LedgerEpoch
	RootHex string
}

type claimsData struct {
	Epochs  []epochRow
	Account string
	Epoch   string
	Package *claims.Package
}

// claimsPage lists the ledger's epochs and looks up an account's claim
// package and Merkle proof (?account=, ?epoch=; the latest published by
// default).
func (c *Console) claimsPage(ctx *fiber.Ctx, v *visit) error {
	rctx := ctx.UserContext()
	cl := claims.New(c.cfg.DB, c.cfg.Now)
	eps, err := cl.Epochs(rctx, c.cfg.PageSize)
	if err != nil {
		return err
	}
	d := claimsData{Account: ctx.Query("account"), Epoch: ctx.Query("epoch")}
	for _, e := range eps {
		d.Epochs = append(d.Epochs, epochRow{LedgerEpoch: e, RootHex: "0x" + hex.EncodeToString(e.Root[:])})
	}
	if d.Account != "" {
		var id int64
		if d.Epoch != "" {
			if id, err = claims.EpochID(d.Epoch); err != nil {
				return err
			}
		}
		pkg, err := cl.Package(rctx, id, d.Account)
		if err != nil {
			if proofgrid.ErrorCode(err) != proofgrid.ENOTFOUND {
				return err
			}
			return proofgrid.Errorf(proofgrid.ENOTFOUND, "no claim for %s in that epoch: the account earned nothing before its cutoff, or no epoch is published yet", d.Account)
		}
		d.Package = &pkg
	}
	return c.render(ctx, fiber.StatusOK, "claims", pageData{Title: "Claims", Nav: "claims", Visit: v, Data: d})
}
