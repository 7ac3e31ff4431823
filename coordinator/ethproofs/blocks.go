package ethproofs

import (
	"github.com/gofiber/fiber/v2"

	"github.com/proofgrid/proofgrid/client"
	"github.com/proofgrid/proofgrid/coordinator/web"
	"github.com/proofgrid/proofgrid/proofs"
	"github.com/proofgrid/proofgrid/storage"
)

func newBlockResponse(b storage.Block) client.Block {
	r := client.Block{BlockNumber: b.Number, CreatedAt: timestamp(b.CreatedAt), UpdatedAt: timestamp(b.UpdatedAt)}
	if b.Hash != nil {
		r.Hash = *b.Hash
	}
	if b.Timestamp != nil {
		r.Timestamp = timestamp(*b.Timestamp)
	}
	if b.GasUsed != nil {
		r.GasUsed = *b.GasUsed
	}
	if b.TransactionCount != nil {
		r.TransactionCount = *b.TransactionCount
	}
	return r
}

func (a *API) getBlock(c *fiber.Ctx) error {
	ref, err := proofs.ParseBlockRef(c.Params("block"))
	if err != nil {
		return err
	}
	b, err := a.Proofs.Block(c.UserContext(), ref)
	if err != nil {
		return err
	}
	return c.JSON(newBlockResponse(b))
}

// recordBlock is proofgrid's block feed endpoint (operator keys): it records
// a block and, the first time, schedules its proving for every active
// cluster.
func (a *API) recordBlock(c *fiber.Ctx) error {
	f, err := decodeObject(c, maxJSONBody)
	if err != nil {
		return err
	}
	info, err := blockInfo(f)
	if err != nil {
		return err
	}
	res, err := a.Proofs.RecordBlock(c.UserContext(), info)
	if err != nil {
		return err
	}
	status := fiber.StatusOK
	if res.Created {
		status = fiber.StatusCreated
	}
	return c.Status(status).JSON(fiber.Map{
		"block":     newBlockResponse(res.Block),
		"created":   res.Created,
		"scheduled": res.Scheduled,
	})
}

func blockInfo(f fields) (storage.BlockInfo, error) {
	n, _, err := f.integer("block_number", true, 0, storage.MaxBlockNumber)
	if err != nil {
		return storage.BlockInfo{}, err
	}
	info := storage.BlockInfo{Number: n}
	if h, ok, err := f.str("hash", false, 66); err != nil {
		return info, err
	} else if ok {
		if !proofs.ValidBlockHash(h) {
			return info, invalid("hash", "must be 0x followed by 64 hex digits")
		}
		info.Hash = &h
	}
	if t, ok, err := f.timestamp("timestamp", false); err != nil {
		return info, err
	} else if ok {
		info.Timestamp = &t
	}
	if g, ok, err := f.integer("gas_used", false, 0, storage.MaxBlockNumber); err != nil {
		return info, err
	} else if ok {
		info.GasUsed = &g
	}
	if tc, ok, err := f.integer("transaction_count", false, 0, storage.MaxBlockNumber); err != nil {
		return info, err
	} else if ok {
		info.TransactionCount = &tc
	}
	return info, nil
}

func (a *API) listZKVMs(c *fiber.Ctx) error {
	zs, err := a.Proofs.ZKVMs(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(zs)
}

// importZKVMs imports a catalogue document (operator keys).
func (a *API) importZKVMs(c *fiber.Ctx) error {
	body, err := web.ReadBody(c, maxJSONBody)
	if err != nil {
		return err
	}
	cat, err := proofs.ParseCatalogue(body)
	if err != nil {
		return err
	}
	if err := a.Proofs.ImportCatalogue(c.UserContext(), cat); err != nil {
		return err
	}
	return a.listZKVMs(c)
}
