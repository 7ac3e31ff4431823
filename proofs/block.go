package proofs

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/storage"
)

var blockHashPattern = regexp.MustCompile(`^0x[0-9a-fA-F]{64}$`)

// ValidBlockHash reports whether h is 0x and 64 hex digits.
func ValidBlockHash(h string) bool { return blockHashPattern.MatchString(h) }

// RecordResult tells what recording a block did.
type RecordResult struct {
	Block storage.Block `json:"block"`
	// Created tells whether the block was new to proofgrid.
	Created bool `json:"created"`
	// Scheduled is how many prove:block tasks were written: one per
	// active cluster version, the first time the block comes from a
	// block feed, and none after.
	Scheduled int `json:"scheduled"`
}

// RecordBlock records a block from a block feed (the admin endpoint or a
// block source) and fills in the metadata info knows. The first time a
// feed records a block, it writes one prove:block task per active
// cluster's active version, through the outbox in the same transaction,
// each with the TaskID queue.ProveBlockID, so that the block is proved
// once per cluster version however often it is recorded.
func (s *Service) RecordBlock(ctx context.Context, info storage.BlockInfo) (RecordResult, error) {
	if info.Number < 0 {
		return RecordResult{}, proofgrid.Errorf(proofgrid.EINVALID, "block_number must not be negative")
	}
	if info.Hash != nil {
		if !ValidBlockHash(*info.Hash) {
			return RecordResult{}, proofgrid.Errorf(proofgrid.EINVALID, "hash must be 0x followed by 64 hex digits")
		}
		h := strings.ToLower(*info.Hash)
		info.Hash = &h
	}
	if (info.GasUsed != nil && *info.GasUsed < 0) || (info.TransactionCount != nil && *info.TransactionCount < 0) {
		return RecordResult{}, proofgrid.Errorf(proofgrid.EINVALID, "gas_used and transaction_count must not be negative")
	}
	var res RecordResult
	now := s.now()
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		var err error
		if res.Block, res.Created, err = tx.RecordBlock(ctx, info, now); err != nil {
			return err
		}
		if res.Block.Hash != nil {
			if err := s.reverify(ctx, tx, res.Block); err != nil {
				return err
			}
		}
		first, err := tx.MarkBlockScheduled(ctx, info.Number, now)
		if err != nil || !first {
			return err
		}
		res.Block.ScheduledAt = &now
		provers, err := tx.ActiveProvers(ctx)
		if err != nil {
			return err
		}
		for _, p := range provers {
			err := tx.Enqueue(ctx, queue.ProveBlock(queue.ProveBlockPayload{
				BlockNumber:      uint64(info.Number),
				BlockHash:        deref(res.Block.Hash),
				ClusterID:        p.ClusterID,
				ClusterVersionID: p.ClusterVersionID,
			}))
			if err != nil {
				return fmt.Errorf("schedule block %d for cluster %s: %w", info.Number, p.ClusterID, err)
			}
			res.Scheduled++
		}
		return nil
	})
	if err != nil {
		return RecordResult{}, err
	}
	if res.Scheduled > 0 {
		s.notify()
	}
	return res, nil
}

// reverify verifies again, in tx, the proofs of block b that could not be
// verified because its hash was not known then: a cannot_verify for a
// missing input is not final. Each gets a verification task of its own
// TaskID (the first one's stays taken for its retention), named after the
// hash so that recording the same hash again adds nothing.
func (s *Service) reverify(ctx context.Context, tx *storage.Tx, b storage.Block) error {
	reopened, err := tx.ReopenVerifications(ctx, b.Number, unknownHashReason(b.Number))
	if err != nil {
		return err
	}
	for _, p := range reopened {
		m := queue.ProofVerify(queue.ProofVerifyPayload{ProofID: p.ID, TeamID: p.TeamID})
		m.TaskID += ":" + *b.Hash
		if err := tx.Enqueue(ctx, m); err != nil {
			return fmt.Errorf("verify proof %d again: %w", p.ID, err)
		}
	}
	return nil
}

// Block returns a block by number or by 0x hash, or ENOTFOUND.
func (s *Service) Block(ctx context.Context, ref BlockRef) (storage.Block, error) {
	if ref.Hash != "" {
		return s.db.BlockByHash(ctx, ref.Hash)
	}
	return s.db.BlockByNumber(ctx, ref.Number)
}

// LatestScheduledBlock returns the highest block a feed recorded, and
// false when there is none.
func (s *Service) LatestScheduledBlock(ctx context.Context) (int64, bool, error) {
	return s.db.LatestScheduledBlock(ctx)
}

// BlockRef names a block by number or, when Hash is set, by hash.
type BlockRef struct {
	Number int64
	Hash   string
}

// ParseBlockRef reads a block given as a decimal number or a 0x hash, as
// the Ethproofs block parameters take it.
func ParseBlockRef(s string) (BlockRef, error) {
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		if !ValidBlockHash(s) {
			return BlockRef{}, proofgrid.Errorf(proofgrid.EINVALID, "Invalid block: a block hash is 0x followed by 64 hex digits, got %q", s)
		}
		return BlockRef{Hash: strings.ToLower(s)}, nil
	}
	n, err := parseBlockNumber(s)
	if err != nil {
		return BlockRef{}, err
	}
	return BlockRef{Number: n}, nil
}

func parseBlockNumber(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, proofgrid.Errorf(proofgrid.EINVALID, "Invalid block number: want an integer from 0 to %d or a 0x block hash, got %q", int64(storage.MaxBlockNumber), s)
	}
	return n, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
