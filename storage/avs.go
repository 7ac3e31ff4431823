package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/proofgrid/proofgrid"
)

// AVSRegistration is whether an operator is registered with an AVS on a
// chain, as someone recorded it, and when that was true.
type AVSRegistration struct {
	AVSID           string `json:"avs_id"`
	Chain           string `json:"chain"`
	OperatorAddress string `json:"operator_address"`
	Registered      bool   `json:"registered"`
	// Source says who recorded it, e.g. "admin".
	Source string `json:"source"`
	// AsOf is when the fact held; UpdatedAt when it was stored.
	AsOf      time.Time `json:"as_of"`
	UpdatedAt time.Time `json:"updated_at"`
}

// PutAVSRegistration stores r, replacing the record of the same AVS, chain
// and operator; created reports that there was none.
func (c *conn) PutAVSRegistration(ctx context.Context, r AVSRegistration) (created bool, _ error) {
	if r.AVSID == "" || r.Chain == "" || r.OperatorAddress == "" || r.Source == "" {
		return false, proofgrid.Errorf(proofgrid.EINVALID, "registration needs an AVS, a chain, an operator and a source")
	}
	err := c.inTx(ctx, func(tx *Tx) error {
		found, err := exists(ctx, tx.w,
			`SELECT 1 FROM avs_registrations WHERE avs_id = ? AND chain = ? AND operator_address = ?`,
			r.AVSID, r.Chain, r.OperatorAddress)
		if err != nil {
			return fmt.Errorf("storage: put registration: %w", err)
		}
		created = !found
		_, err = execContext(ctx, tx.w,
			`INSERT INTO avs_registrations (avs_id, chain, operator_address, registered, source, as_of, updated_at)
			 VALUES (?, ?, ?, ?, ?, ?, ?)
			 ON CONFLICT (avs_id, chain, operator_address) DO UPDATE SET
			     registered = excluded.registered, source = excluded.source,
			     as_of = excluded.as_of, updated_at = excluded.updated_at`,
			r.AVSID, r.Chain, r.OperatorAddress, r.Registered, r.Source, r.AsOf, c.now())
		if err != nil {
			return fmt.Errorf("storage: put registration: %w", err)
		}
		// Health reads registrations: what was judged before is stale.
		return bumpGeneration(ctx, tx, GenerationRegistrations)
	})
	return created, err
}

// AVSRegistrations returns the recorded registrations with AVS avsID (""
// for every AVS), ordered by AVS, chain and operator.
func (c *conn) AVSRegistrations(ctx context.Context, avsID string) ([]AVSRegistration, error) {
	query := `SELECT avs_id, chain, operator_address, registered, source, as_of, updated_at FROM avs_registrations`
	var args []any
	if avsID != "" {
		query += ` WHERE avs_id = ?`
		args = append(args, avsID)
	}
	query += ` ORDER BY avs_id, chain, operator_address`
	var rows []struct {
		AVSID           string `db:"avs_id"`
		Chain           string `db:"chain"`
		OperatorAddress string `db:"operator_address"`
		Registered      bool   `db:"registered"`
		Source          string `db:"source"`
		AsOf            dbTime `db:"as_of"`
		UpdatedAt       dbTime `db:"updated_at"`
	}
	if err := selectContext(ctx, c.r, &rows, query, args...); err != nil {
		return nil, fmt.Errorf("storage: registrations: %w", err)
	}
	out := make([]AVSRegistration, 0, len(rows))
	for _, r := range rows {
		out = append(out, AVSRegistration{
			AVSID: r.AVSID, Chain: r.Chain, OperatorAddress: r.OperatorAddress, Registered: r.Registered,
			Source: r.Source, AsOf: r.AsOf.Time, UpdatedAt: r.UpdatedAt.Time,
		})
	}
	return out, nil
}

// StakeStrategy is the stake delegated to an operator through one
// EigenLayer strategy, in units of the strategy's token (about 1 ETH each
// for the liquid staking tokens).
type StakeStrategy struct {
	Name           string  `json:"name"`
	Address        string  `json:"address"`
	DelegatedStake float64 `json:"delegated_stake"`
}

// OperatorStake is the stake delegated to an operator on EigenLayer.
type OperatorStake struct {
	OperatorAddress string          `json:"operator_address"`
	Eigen           float64         `json:"eigen"`
	Strategies      []StakeStrategy `json:"strategies"`
	Source          string          `json:"source"`
	AsOf            time.Time       `json:"as_of"`
	UpdatedAt       time.Time       `json:"updated_at"`
}

// PutOperatorStake stores s, replacing the operator's previous record;
// created reports that there was none.
func (c *conn) PutOperatorStake(ctx context.Context, s OperatorStake) (created bool, _ error) {
	if s.OperatorAddress == "" || s.Source == "" {
		return false, proofgrid.Errorf(proofgrid.EINVALID, "stake needs an operator and a source")
	}
	if s.Strategies == nil {
		s.Strategies = []StakeStrategy{}
	}
	doc, err := json.Marshal(s.Strategies)
	if err != nil {
		return false, proofgrid.Errorf(proofgrid.EINVALID, "strategies cannot be stored: %v", err)
	}
	err = c.inTx(ctx, func(tx *Tx) error {
		found, err := exists(ctx, tx.w, `SELECT 1 FROM operator_stakes WHERE operator_address = ?`, s.OperatorAddress)
		if err != nil {
			return fmt.Errorf("storage: put stake: %w", err)
		}
		created = !found
		_, err = execContext(ctx, tx.w,
			`INSERT INTO operator_stakes (operator_address, eigen, strategies, source, as_of, updated_at)
			 VALUES (?, ?, ?, ?, ?, ?)
			 ON CONFLICT (operator_address) DO UPDATE SET
			     eigen = excluded.eigen, strategies = excluded.strategies, source = excluded.source,
			     as_of = excluded.as_of, updated_at = excluded.updated_at`,
			s.OperatorAddress, s.Eigen, string(doc), s.Source, s.AsOf, c.now())
		if err != nil {
			return fmt.Errorf("storage: put stake: %w", err)
		}
		return nil
	})
	return created, err
}

// OperatorStake returns the stake recorded for an operator, or ENOTFOUND.
func (c *conn) OperatorStake(ctx context.Context, operator string) (OperatorStake, error) {
	var r struct {
		OperatorAddress string  `db:"operator_address"`
		Eigen           float64 `db:"eigen"`
		Strategies      string  `db:"strategies"`
		Source          string  `db:"source"`
		AsOf            dbTime  `db:"as_of"`
		UpdatedAt       dbTime  `db:"updated_at"`
	}
	err := getContext(ctx, c.r, &r,
		`SELECT operator_address, eigen, strategies, source, as_of, updated_at FROM operator_stakes WHERE operator_address = ?`,
		operator)
	if errors.Is(err, sql.ErrNoRows) {
		return OperatorStake{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "no stake recorded for operator %s", operator)
	} else if err != nil {
		return OperatorStake{}, fmt.Errorf("storage: operator stake: %w", err)
	}
	s := OperatorStake{OperatorAddress: r.OperatorAddress, Eigen: r.Eigen, Source: r.Source, AsOf: r.AsOf.Time, UpdatedAt: r.UpdatedAt.Time}
	if err := json.Unmarshal([]byte(r.Strategies), &s.Strategies); err != nil {
		return OperatorStake{}, fmt.Errorf("storage: operator %s stake: %w", operator, err)
	}
	return s, nil
}

// CatalogueEntry is one AVS of the catalogue, stored as the JSON document
// the catalogue file gave for it.
type CatalogueEntry struct {
	AVSID string `json:"avs_id"`
	Name  string `json:"avs_name"`
	// Position orders the entries as their file listed them.
	Position int             `json:"position"`
	Document json.RawMessage `json:"document"`
	// Source names where the entry came from: "embedded", or the file an
	// import read.
	Source string `json:"source"`
	// AsOf is the date the catalogue file gives for its data.
	AsOf      time.Time `json:"as_of"`
	UpdatedAt time.Time `json:"updated_at"`
}

// CatalogueSetting is a catalogue value that belongs to no AVS, such as the
// latest agent version.
type CatalogueSetting struct {
	Name      string    `json:"name"`
	Value     string    `json:"value"`
	Source    string    `json:"source"`
	AsOf      time.Time `json:"as_of"`
	UpdatedAt time.Time `json:"updated_at"`
}

// UpsertCatalogue stores entries and settings in one transaction and
// returns how many rows it wrote. With replace false, a stored row is only
// replaced by one with a later AsOf, which lets every coordinator load its
// built-in catalogue at start without undoing a newer import; with replace
// true, the given rows win whatever their date.
func (c *conn) UpsertCatalogue(ctx context.Context, entries []CatalogueEntry, settings []CatalogueSetting, replace bool) (int, error) {
	cond := ` WHERE avs_catalogue.as_of < excluded.as_of`
	setCond := ` WHERE catalogue_settings.as_of < excluded.as_of`
	if replace {
		cond, setCond = "", ""
	}
	written := 0
	err := c.inTx(ctx, func(tx *Tx) error {
		written = 0
		now := c.now()
		for _, e := range entries {
			if strings.TrimSpace(e.AVSID) == "" || !json.Valid(e.Document) {
				return proofgrid.Errorf(proofgrid.EINVALID, "catalogue entry %q needs an id and a JSON document", e.AVSID)
			}
			res, err := execContext(ctx, tx.w,
				`INSERT INTO avs_catalogue (avs_id, avs_name, position, document, source, as_of, updated_at)
				 VALUES (?, ?, ?, ?, ?, ?, ?)
				 ON CONFLICT (avs_id) DO UPDATE SET
				     avs_name = excluded.avs_name, position = excluded.position, document = excluded.document,
				     source = excluded.source, as_of = excluded.as_of, updated_at = excluded.updated_at`+cond,
				e.AVSID, e.Name, e.Position, string(e.Document), e.Source, e.AsOf, now)
			if err != nil {
				return fmt.Errorf("storage: upsert catalogue entry %s: %w", e.AVSID, err)
			}
			n, err := rowsAffected(res)
			if err != nil {
				return err
			}
			written += int(n)
		}
		for _, s := range settings {
			res, err := execContext(ctx, tx.w,
				`INSERT INTO catalogue_settings (name, value, source, as_of, updated_at)
				 VALUES (?, ?, ?, ?, ?)
				 ON CONFLICT (name) DO UPDATE SET
				     value = excluded.value, source = excluded.source,
				     as_of = excluded.as_of, updated_at = excluded.updated_at`+setCond,
				s.Name, s.Value, s.Source, s.AsOf, now)
			if err != nil {
				return fmt.Errorf("storage: upsert catalogue setting %s: %w", s.Name, err)
			}
			n, err := rowsAffected(res)
			if err != nil {
				return err
			}
			written += int(n)
		}
		if written == 0 {
			return nil
		}
		// Health reads cache the catalogue until this changes.
		return bumpGeneration(ctx, tx, GenerationCatalogue)
	})
	return written, err
}

// CatalogueEntries returns the AVS catalogue in file order.
func (c *conn) CatalogueEntries(ctx context.Context) ([]CatalogueEntry, error) {
	var rows []struct {
		AVSID     string `db:"avs_id"`
		Name      string `db:"avs_name"`
		Position  int    `db:"position"`
		Document  string `db:"document"`
		Source    string `db:"source"`
		AsOf      dbTime `db:"as_of"`
		UpdatedAt dbTime `db:"updated_at"`
	}
	if err := selectContext(ctx, c.r, &rows,
		`SELECT avs_id, avs_name, position, document, source, as_of, updated_at
		 FROM avs_catalogue ORDER BY position, avs_id`); err != nil {
		return nil, fmt.Errorf("storage: catalogue: %w", err)
	}
	out := make([]CatalogueEntry, 0, len(rows))
	for _, r := range rows {
		out = append(out, CatalogueEntry{
			AVSID: r.AVSID, Name: r.Name, Position: r.Position, Document: json.RawMessage(r.Document),
			Source: r.Source, AsOf: r.AsOf.Time, UpdatedAt: r.UpdatedAt.Time,
		})
	}
	return out, nil
}

// CatalogueSettings returns the catalogue's settings by name.
func (c *conn) CatalogueSettings(ctx context.Context) (map[string]CatalogueSetting, error) {
	var rows []struct {
		Name      string `db:"name"`
		Value     string `db:"value"`
		Source    string `db:"source"`
		AsOf      dbTime `db:"as_of"`
		UpdatedAt dbTime `db:"updated_at"`
	}
	if err := selectContext(ctx, c.r, &rows,
		`SELECT name, value, source, as_of, updated_at FROM catalogue_settings`); err != nil {
		return nil, fmt.Errorf("storage: catalogue settings: %w", err)
	}
	out := make(map[string]CatalogueSetting, len(rows))
	for _, r := range rows {
		out[r.Name] = CatalogueSetting{Name: r.Name, Value: r.Value, Source: r.Source, AsOf: r.AsOf.Time, UpdatedAt: r.UpdatedAt.Time}
	}
	return out, nil
}
