package storage

import (
	"context"
	"fmt"
)

// SetMachineEnrolToken records that API token tokenID enrolled machine
// machineID last. An unknown machine changes nothing.
func (c *conn) SetMachineEnrolToken(ctx context.Context, machineID string, tokenID int64) error {
	if _, err := execContext(ctx, c.w, `UPDATE machines SET enrolled_by_token_id = ? WHERE id = ?`, tokenID, machineID); err != nil {
		return fmt.Errorf("storage: set machine enrol token: %w", err)
	}
	return nil
}

// MachinesEnrolledByToken returns the ids of the machines API token
// tokenID enrolled last, in id order; empty, not nil, when there are none.
func (c *conn) MachinesEnrolledByToken(ctx context.Context, tokenID int64) ([]string, error) {
	ids := []string{}
	if err := selectContext(ctx, c.r, &ids, `SELECT id FROM machines WHERE enrolled_by_token_id = ? ORDER BY id`, tokenID); err != nil {
		return nil, fmt.Errorf("storage: machines enrolled by token: %w", err)
	}
	return ids, nil
}
