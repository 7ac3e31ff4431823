// Package fleet holds the rules about machines: enrolment, heartbeats and
// their validation, team visibility, metric retention, and fleet health:
// the one function that derives a machine's health (Assess), the sweep
// that records health transitions, the AVS catalogue, and the AVS facts
// admins record. Surfaces and task handlers call it; it knows nothing of
// HTTP or queues' transport.
package fleet

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/storage"
)

// Config configures a Service. Zero values mean defaults.
type Config struct {
	// HeartbeatInterval is what agents are told to use (default 15 s).
	HeartbeatInterval time.Duration
	// AgentRedisURL is handed to agents at enrolment when Access is nil;
	// empty leaves it to the agent's own configuration.
	AgentRedisURL string
	// Access gives each enrolled machine its own credentials for its job
	// queues (redisacl.Granter); nil hands every agent AgentRedisURL.
	Access Access
	Now    func() time.Time
}

// Access grants and revokes a machine's access to its job queues.
type Access interface {
	// Grant gives machineID access to exactly queues, replacing what it
	// had, and returns the Redis URL the agent connects with.
	Grant(ctx context.Context, machineID string, queues []string) (string, error)
	// Revoke takes the machine's access away.
	Revoke(ctx context.Context, machineID string) error
}

// Service applies the fleet rules over storage.
type Service struct {
	db  *storage.DB
	cfg Config
	// heartbeats commits concurrent heartbeats in shared transactions.
	heartbeats *storage.Batcher
	// keys caches enrolled machines' public keys by machine id. A
	// machine's key never changes (machines are keyed by it, and
	// re-enrolling a key keeps its id), and proofgrid deletes no machine,
	// so an entry cannot go stale; it holds only enrolled machines.
	keys sync.Map
}

// NewService returns a Service.
func NewService(db *storage.DB, cfg Config) *Service {
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 15 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{db: db, cfg: cfg, heartbeats: storage.NewBatcher(db, 0)}
}

// Close waits for the heartbeats being written and refuses new ones; call
// it after the HTTP server stopped and before closing the database.
func (s *Service) Close() { s.heartbeats.Close() }

var clusterIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// ValidClusterID reports whether id may name a cluster in queue names.
func ValidClusterID(id string) bool { return clusterIDPattern.MatchString(id) }

// Enrolment is who enrols a machine: a team, through one of its API tokens.
type Enrolment struct {
	TeamID int64
	// TokenID is the API token used, recorded so that revoking the token
	// revokes the machine's queue access too; 0 records none.
	TokenID int64
	// Operator tells that the credential is an operator's, which only a
	// verifier enrolment needs.
	Operator bool
}

// Enroll registers (or re-registers) a machine of a team. The same public
// key always gets the same machine id. The machine gets its own
// credentials for its queues, replacing those of an earlier enrolment.
func (s *Service) Enroll(ctx context.Context, by Enrolment, req proofgrid.EnrollRequest) (proofgrid.EnrollResponse, error) {
	teamID := by.TeamID
	if err := validateEnroll(req); err != nil {
		return proofgrid.EnrollResponse{}, err
	}
	// A verifier agent takes every team's zkGolf submissions, pending ones
	// included, and decides their verdicts: it is the operator's machine,
	// never a team's.
	if req.Role == proofgrid.RoleVerifier && !by.Operator {
		return proofgrid.EnrollResponse{}, proofgrid.Errorf(proofgrid.EFORBIDDEN,
			"verifier agents see every submission: enrol them with an operator token (coordinator token create --operator)")
	}
	if err := s.checkCluster(ctx, teamID, req.ClusterID); err != nil {
		return proofgrid.EnrollResponse{}, err
	}
	m, _, err := s.db.UpsertMachine(ctx, proofgrid.Machine{
		ID:           uuid.NewString(),
		TeamID:       teamID,
		Name:         req.Name,
		Role:         req.Role,
		ClusterID:    req.ClusterID,
		PublicKey:    req.PublicKey,
		AgentVersion: req.AgentVersion,
		EnrolledAt:   s.cfg.Now().UTC(),
	})
	if proofgrid.ErrorCode(err) == proofgrid.ECONFLICT {
		return proofgrid.EnrollResponse{}, proofgrid.Errorf(proofgrid.ECONFLICT, "this agent key is enrolled by another team")
	} else if err != nil {
		return proofgrid.EnrollResponse{}, fmt.Errorf("enrol machine: %w", err)
	}
	if by.TokenID != 0 {
		if err := s.db.SetMachineEnrolToken(ctx, m.ID, by.TokenID); err != nil {
			return proofgrid.EnrollResponse{}, err
		}
	}
	queues := Queues(m)
	redisURL := s.cfg.AgentRedisURL
	if s.cfg.Access != nil {
		if redisURL, err = s.cfg.Access.Grant(ctx, m.ID, queues); err != nil {
			return proofgrid.EnrollResponse{}, fmt.Errorf("grant queue access: %w", err)
		}
	}
	return proofgrid.EnrollResponse{
		MachineID:         m.ID,
		Queues:            queues,
		RedisURL:          redisURL,
		HeartbeatInterval: int(s.cfg.HeartbeatInterval / time.Second),
	}, nil
}

// RevokeEnrolments takes queue access away from every machine that API
// token tokenID enrolled last; the caller revokes the token itself after
// this succeeds, so that a failure here can be retried with the token
// still known. The machines stay enrolled and keep sending heartbeats
// (those are signed by the machine's own key), but take no more jobs
// until enrolled again with a live token. It returns the machine ids.
func (s *Service) RevokeEnrolments(ctx context.Context, tokenID int64) ([]string, error) {
	ids, err := s.db.MachinesEnrolledByToken(ctx, tokenID)
	if err != nil {
		return nil, err
	}
	if s.cfg.Access == nil {
		return ids, nil
	}
	for _, id := range ids {
		if err := s.cfg.Access.Revoke(ctx, id); err != nil {
			return nil, fmt.Errorf("revoke queue access of machine %s: %w", id, err)
		}
	}
	return ids, nil
}

// checkCluster refuses a cluster the team does not own: its queue would
// hand the machine another team's prove:block tasks. An unknown cluster
// and another team's cluster get the same not-found answer, so that the
// answer reveals nothing about which cluster UUIDs exist.
func (s *Service) checkCluster(ctx context.Context, teamID int64, clusterID string) error {
	if clusterID == "" {
		return nil
	}
	c, err := s.db.ClusterByID(ctx, clusterID)
	if err != nil && proofgrid.ErrorCode(err) != proofgrid.ENOTFOUND {
		return fmt.Errorf("look up cluster: %w", err)
	}
	if err != nil || c.TeamID != teamID {
		return proofgrid.Errorf(proofgrid.ENOTFOUND, "cluster %s not found", clusterID)
	}
	return nil
}

// Queues returns the asynq queues a machine's agent consumes.
func Queues(m proofgrid.Machine) []string {
	switch {
	case m.Role == proofgrid.RoleProver && m.ClusterID != "":
		return []string{queue.ProveQueue(m.ClusterID)}
	case m.Role == proofgrid.RoleAVS:
		return []string{queue.AVSQueue(m.ID)}
	case m.Role == proofgrid.RoleVerifier:
		return []string{queue.QueueVerifyGolf}
	}
	return []string{}
}

// TeamQueues returns the asynq queues that carry team teamID's work,
// sorted: the prove queue of each of its clusters and the AVS queue of
// each of its AVS machines. A prover machine's queue is its cluster's, and
// only the team's own clusters count: a machine enrolled with a cluster id
// of another team reveals nothing of that team's queue. teamID 0 names no
// team (EINVALID).
func (s *Service) TeamQueues(ctx context.Context, teamID int64) ([]string, error) {
	if teamID == 0 {
		return nil, proofgrid.Errorf(proofgrid.EINVALID, "queues belong to a team")
	}
	clusters, err := s.db.ListClusters(ctx, teamID)
	if err != nil {
		return nil, err
	}
	avs, err := s.db.MachineIDsWithRole(ctx, teamID, proofgrid.RoleAVS)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(clusters)+len(avs))
	for _, c := range clusters {
		out = append(out, queue.ProveQueue(c.Cluster.ID))
	}
	for _, id := range avs {
		out = append(out, queue.AVSQueue(id))
	}
	sort.Strings(out)
	return out, nil
}

func decodeKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, proofgrid.Errorf(proofgrid.EINVALID, "public_key must be a base64 Ed25519 public key (32 bytes)")
	}
	return ed25519.PublicKey(b), nil
}

// AgentKey returns the public key of an enrolled machine and its identity
// (the returned Machine carries no sample or status).
func (s *Service) AgentKey(ctx context.Context, machineID string) (ed25519.PublicKey, proofgrid.Machine, error) {
	if _, err := uuid.Parse(machineID); err != nil {
		return nil, proofgrid.Machine{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "unknown machine")
	}
	m, err := s.db.MachineIdentity(ctx, machineID)
	if err != nil {
		return nil, proofgrid.Machine{}, err
	}
	key, err := decodeKey(m.PublicKey)
	if err != nil {
		return nil, proofgrid.Machine{}, fmt.Errorf("stored key of machine %s: %w", m.ID, err)
	}
	return key, m, nil
}

// AgentPublicKey returns the public key of an enrolled machine, read once
// and then served from memory: a signed heartbeat costs no identity read.
// Callers that need the machine's current identity (team, role, cluster)
// use AgentKey.
func (s *Service) AgentPublicKey(ctx context.Context, machineID string) (ed25519.PublicKey, error) {
	if k, ok := s.keys.Load(machineID); ok {
		return k.(ed25519.PublicKey), nil
	}
	key, _, err := s.AgentKey(ctx, machineID)
	if err != nil {
		return nil, err
	}
	// machineID may alias a request buffer (fasthttp's zero-copy strings).
	s.keys.Store(strings.Clone(machineID), key)
	return key, nil
}

// Heartbeat validates and records one heartbeat of a machine.
func (s *Service) Heartbeat(ctx context.Context, machineID string, hb proofgrid.Heartbeat) (time.Time, error) {
	if err := ValidateHeartbeat(hb, s.cfg.Now()); err != nil {
		return time.Time{}, err
	}
	now := s.cfg.Now().UTC()
	// What health reads is condensed now and stored with the heartbeat, so
	// that fleet-wide reads never decode samples.
	obs, deps := Observe(machineID, now, hb)
	write, err := storage.ObservedHeartbeatWrite(machineID, now, hb, obs, deps)
	if err != nil {
		return time.Time{}, fmt.Errorf("record heartbeat: %w", err)
	}
	// Concurrent heartbeats share one transaction; Do returns once ours
	// committed, so the agent is acknowledged only for a stored heartbeat.
	if err := s.heartbeats.Do(ctx, write); err != nil {
		if proofgrid.ErrorCode(err) == proofgrid.ENOTFOUND {
			// Its row is gone (deleted by hand): so is its cached key.
			s.keys.Delete(machineID)
			return time.Time{}, proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "unknown machine %q: enrol again", machineID)
		}
		return time.Time{}, fmt.Errorf("record heartbeat: %w", err)
	}
	return now, nil
}

// HeartbeatInterval is the interval agents are told to use.
func (s *Service) HeartbeatInterval() time.Duration { return s.cfg.HeartbeatInterval }

// Machine returns a machine visible to teamID (0: any team). A machine of
// another team is reported as not found, so ids of others leak nothing.
func (s *Service) Machine(ctx context.Context, teamID int64, id string) (proofgrid.Machine, error) {
	if _, err := uuid.Parse(id); err != nil {
		return proofgrid.Machine{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "machine %q not found", id)
	}
	m, err := s.db.MachineByID(ctx, id)
	if err != nil {
		if proofgrid.ErrorCode(err) == proofgrid.ENOTFOUND {
			return m, proofgrid.Errorf(proofgrid.ENOTFOUND, "machine %q not found", id)
		}
		return m, err
	}
	if teamID != 0 && m.TeamID != teamID {
		return proofgrid.Machine{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "machine %q not found", id)
	}
	return m, nil
}

// Machines lists the machines of teamID (0: every team).
func (s *Service) Machines(ctx context.Context, teamID int64) ([]proofgrid.Machine, error) {
	return s.db.ListMachines(ctx, teamID)
}

// Metrics returns up to limit history points of a machine visible to teamID.
func (s *Service) Metrics(ctx context.Context, teamID int64, id string, since time.Time, limit int) ([]storage.MetricPoint, error) {
	if _, err := s.Machine(ctx, teamID, id); err != nil {
		return nil, err
	}
	return s.db.MachineMetrics(ctx, id, since, limit)
}

// PruneMetrics deletes history older than keep.
func (s *Service) PruneMetrics(ctx context.Context, keep time.Duration) (int64, error) {
	return s.db.DeleteMetricsBefore(ctx, s.cfg.Now().Add(-keep))
}
