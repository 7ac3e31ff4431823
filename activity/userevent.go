package activity

import (
	"context"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/storage"
)

// UserEventInput is one user event sent through the admin ingest API.
type UserEventInput struct {
	EventKey  string    `json:"event_key"`
	UserID    string    `json:"user_id"`
	PublicKey string    `json:"public_key"`
	TxType    string    `json:"tx_type"`
	Timestamp time.Time `json:"timestamp"`
}

// IngestUserEvents stores user events, idempotent by event key, all or
// none. The checkpoint of each is the one its timestamp falls in.
func (s *Service) IngestUserEvents(ctx context.Context, evs []UserEventInput) (IngestResult, error) {
	if err := checkBatch(len(evs), "events"); err != nil {
		return IngestResult{}, err
	}
	now := s.now()
	for i, e := range evs {
		if e.EventKey == "" || len(e.EventKey) > 200 || e.UserID == "" || len(e.UserID) > 200 || len(e.PublicKey) > 200 ||
			!storage.ValidPsyTxType(e.TxType) || e.Timestamp.IsZero() {
			return IngestResult{}, proofgrid.Errorf(proofgrid.EINVALID,
				"event %d: event_key and user_id (1..200 characters), timestamp and tx_type (RegisterUser, DeployContract or UserTransaction) are required", i)
		}
	}
	var res IngestResult
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		res = IngestResult{}
		for _, e := range evs {
			added, err := tx.InsertPsyUserEvent(ctx, storage.PsyUserEvent{
				Key: "ingest:" + e.EventKey, UserID: e.UserID, PublicKey: e.PublicKey, TxType: e.TxType,
				CheckpointID: s.rewards.Rule().Of(e.Timestamp), Timestamp: e.Timestamp, CreatedAt: now,
			})
			if err != nil {
				return err
			}
			res.count(added)
		}
		return nil
	})
	return res, err
}

// UserEvents lists user events.
func (s *Service) UserEvents(ctx context.Context, f storage.PsyUserEventFilter) ([]storage.PsyUserEvent, error) {
	evs, err := s.db.PsyUserEvents(ctx, f)
	if evs == nil && err == nil {
		evs = []storage.PsyUserEvent{}
	}
	return evs, err
}
