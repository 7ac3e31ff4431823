// Package redisacl gives each enrolled agent its own Redis user, limited to
// the asynq keys of its own queues, so that an agent's credentials never
// reach the coordinator's keys (nonces, rate limits, its own queues) or
// another machine's tasks.
//
// A Granter creates the user at enrolment (ACL SETUSER, with a fresh random
// password each time) and deletes it when the machine's access is revoked
// (ACL DELUSER, which also closes the user's open connections). The rules
// a user gets are exactly what an asynq v0.26 Server needs for its queues;
// Rules lists them, and the package tests run a real asynq Server under
// them.
//
// Redis 7 or later is needed (key permissions per read and write, %R~ and
// %W~), and the coordinator's own Redis user must be allowed the ACL
// command. Where either is missing, or the operator turns the feature off
// (managed Redis services often refuse ACL SETUSER), the Granter falls back
// to handing agents the configured URL unchanged, and says so loudly.
package redisacl

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/proofgrid/proofgrid/queue"
)

// Modes of a Granter.
const (
	// ModeAuto uses per-agent users when Redis allows it and falls back to
	// the shared URL, with an error in the log, when it does not.
	ModeAuto = "auto"
	// ModeOn requires per-agent users: New fails when Redis cannot have them.
	ModeOn = "on"
	// ModeOff hands every agent the configured URL unchanged.
	ModeOff = "off"
)

// UserPrefix starts the name of every agent's Redis user.
const UserPrefix = "pg-agent-"

// Config configures a Granter.
type Config struct {
	// URL is the Redis URL agents connect to. Its scheme (redis or rediss
	// for TLS), host, port, database and query are handed out as they are;
	// the user and password are replaced by the agent's own.
	URL string
	// Mode is ModeAuto (default), ModeOn or ModeOff.
	Mode   string
	Logger *slog.Logger
}

// Granter creates and deletes agents' Redis users.
type Granter struct {
	rdb     redis.UniversalClient
	base    *url.URL
	raw     string
	enabled bool
	log     *slog.Logger
}

// New returns a Granter that manages users through rdb, a connection as
// the coordinator's own Redis user. It checks once that Redis supports
// per-agent users (version 7 or later, the ACL command allowed, a redis://
// or rediss:// URL that can carry a user name).
func New(ctx context.Context, rdb redis.UniversalClient, cfg Config) (*Granter, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	switch cfg.Mode {
	case "":
		cfg.Mode = ModeAuto
	case ModeAuto, ModeOn, ModeOff:
	default:
		return nil, fmt.Errorf("redisacl: mode must be %s, %s or %s, got %q", ModeAuto, ModeOn, ModeOff, cfg.Mode)
	}
	g := &Granter{rdb: rdb, raw: cfg.URL, log: cfg.Logger}
	if cfg.Mode == ModeOff {
		g.log.Warn("per-agent Redis users are turned off: every agent gets the agent Redis URL as configured, with all its access", "mode", ModeOff)
		return g, nil
	}
	err := g.probe(ctx)
	if err == nil {
		g.enabled = true
		return g, nil
	}
	if cfg.Mode == ModeOn {
		return nil, fmt.Errorf("redisacl: per-agent Redis users are required but unavailable: %w", err)
	}
	g.log.Error("PER-AGENT REDIS USERS UNAVAILABLE: every agent gets the agent Redis URL as configured, "+
		"and with it every key in Redis (nonces, rate limits, other teams' tasks); "+
		"see docs/security.md", "reason", err.Error())
	return g, nil
}

// probe checks that Redis can have per-agent users and that rdb may
// create them, by creating and deleting a disabled user.
func (g *Granter) probe(ctx context.Context) error {
	u, err := url.Parse(g.raw)
	if err != nil {
		return fmt.Errorf("agent Redis URL: %w", err)
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return fmt.Errorf("agent Redis URL scheme %q cannot carry a user name; use redis:// or rediss://", u.Scheme)
	}
	g.base = u
	info, err := g.rdb.Info(ctx, "server").Result()
	if err != nil {
		return fmt.Errorf("read the Redis version: %w", err)
	}
	if major := redisMajor(info); major < 7 {
		return fmt.Errorf("redis %d has no per-command key permissions; version 7 or later is needed", major)
	}
	probe := UserPrefix + "probe-" + randomHex(8)
	if err := g.rdb.Do(ctx, "ACL", "SETUSER", probe, "reset", "off").Err(); err != nil {
		return fmt.Errorf("the coordinator's Redis user may not run ACL SETUSER: %w", err)
	}
	if err := g.rdb.Do(ctx, "ACL", "DELUSER", probe).Err(); err != nil {
		return fmt.Errorf("the coordinator's Redis user may not run ACL DELUSER: %w", err)
	}
	return nil
}

// redisMajor reads the major version from INFO server; 0 when absent.
func redisMajor(info string) int {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			major, _, _ := strings.Cut(v, ".")
			n, _ := strconv.Atoi(major)
			return n
		}
	}
	return 0
}

// Enabled reports whether agents get their own users; false means Grant
// hands out the configured URL unchanged.
func (g *Granter) Enabled() bool { return g.enabled }

// Username is the Redis user of a machine.
func Username(machineID string) string { return UserPrefix + machineID }

var (
	// Machine ids are UUIDs; queue names are proofgrid's own
	// (prove.cluster-<id>, avs.machine-<id>). Neither may hold what Redis
	// key patterns treat specially (* ? [ ] \) or the braces around asynq
	// queue names, so one queue's pattern never matches another's keys.
	idPattern    = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
	queuePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`)
)

// commands are what an asynq Server runs for its queues, directly or
// inside its Lua scripts (Redis checks a script's commands and keys
// against the caller's user too): processor, heartbeater, recoverer,
// forwarder, janitor, aggregator, health check and the subscriber to task
// cancellations. Keyless commands that read or change the server (KEYS,
// SCAN, INFO, CONFIG, FLUSHALL, ACL, CLIENT, PUBLISH ...) are not among
// them.
var commands = []string{
	"ping", "select", "evalsha", "eval", "subscribe", "unsubscribe",
	"del", "exists", "expire", "expireat", "get", "set", "setex", "incr",
	"hget", "hset", "hdel",
	"lpush", "rpush", "lrem", "rpoplpush",
	"sadd", "srem", "smembers",
	"zadd", "zrem", "zcard", "zscore", "zrange", "zrevrange", "zrangebyscore", "zremrangebyrank", "zremrangebyscore",
}

// Rules returns the ACL rules, after the user's password, of an agent
// consuming queues:
//
//   - every command above, and no other;
//   - read and write on all keys of its own queues, asynq:{<queue>}:*
//     (pending, active, scheduled, retry, archived, completed, lease,
//     task hashes, statistics, groups);
//   - write only on the registries of servers and workers that asynq's
//     heartbeater adds itself to (asynq:servers, asynq:workers), so that
//     it cannot list the other servers;
//   - read and write on per-server keys (asynq:servers:{host:pid:uuid},
//     asynq:workers:{...}): asynq writes them with a Lua script, and Redis
//     asks both permissions of keys handed to a script. Their names end in
//     a random UUID and cannot be listed, so another server's are out of
//     reach in practice;
//   - the asynq:cancel channel, to subscribe to task cancellations, and
//     its queues' wake channels (queue.WakeChannel), to hear of new tasks.
func Rules(queues []string) []string {
	rules := []string{"resetchannels", "&asynq:cancel", "-@all"}
	for _, c := range commands {
		rules = append(rules, "+"+c)
	}
	for _, q := range queues {
		rules = append(rules, "~asynq:{"+q+"}:*", "&"+queue.WakeChannel(q))
	}
	return append(rules, "%W~asynq:servers", "%W~asynq:workers", "~asynq:servers:{*}", "~asynq:workers:{*}")
}

// Grant creates or replaces the Redis user of a machine, allowed exactly
// its queues, with a new random password, and returns the URL the agent
// connects with. Earlier passwords stop working; connections already open
// keep working under the new rules. When per-agent users are unavailable
// it returns the configured URL.
func (g *Granter) Grant(ctx context.Context, machineID string, queues []string) (string, error) {
	if !g.enabled {
		return g.raw, nil
	}
	if !idPattern.MatchString(machineID) {
		return "", fmt.Errorf("redisacl: machine id %q cannot name a Redis user", machineID)
	}
	for _, q := range queues {
		if !queuePattern.MatchString(q) {
			return "", fmt.Errorf("redisacl: queue %q cannot name Redis keys safely", q)
		}
	}
	user, password := Username(machineID), randomHex(32)
	// One command from reset: the user never exists with a mix of old
	// and new rules.
	args := []any{"ACL", "SETUSER", user, "reset", "on", ">" + password}
	for _, r := range Rules(queues) {
		args = append(args, r)
	}
	if err := g.rdb.Do(ctx, args...).Err(); err != nil {
		return "", fmt.Errorf("redisacl: create user %s: %w", user, err)
	}
	g.save(ctx)
	u := *g.base
	u.User = url.UserPassword(user, password)
	return u.String(), nil
}

// Revoke deletes the Redis user of a machine, which also closes its open
// connections. A machine without a user is no error.
func (g *Granter) Revoke(ctx context.Context, machineID string) error {
	if !g.enabled {
		return nil
	}
	if !idPattern.MatchString(machineID) {
		return fmt.Errorf("redisacl: machine id %q cannot name a Redis user", machineID)
	}
	if err := g.rdb.Do(ctx, "ACL", "DELUSER", Username(machineID)).Err(); err != nil {
		return fmt.Errorf("redisacl: delete user %s: %w", Username(machineID), err)
	}
	g.save(ctx)
	return nil
}

// save writes the users to Redis's ACL file when it has one, so that they
// survive a Redis restart. Without one (the common case) the users live in
// memory only, and an agent whose user is gone enrols again.
func (g *Granter) save(ctx context.Context) {
	err := g.rdb.Do(ctx, "ACL", "SAVE").Err()
	if err != nil && !strings.Contains(err.Error(), "not configured to use an ACL file") {
		g.log.Warn("cannot save Redis ACL users to the ACL file", "error", err)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("redisacl: no randomness: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// ConnOpt parses a Redis URL as asynq.ParseRedisURI does, keeping the user
// name, which asynq's parser drops (a URL with user and password would
// otherwise authenticate as the default user with that password).
func ConnOpt(rawURL string) (asynq.RedisConnOpt, error) {
	opt, err := asynq.ParseRedisURI(rawURL)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	if name := u.User.Username(); name != "" {
		o, ok := opt.(asynq.RedisClientOpt)
		if !ok {
			return nil, errors.New("redisacl: a user name is only supported in redis:// and rediss:// URLs")
		}
		o.Username = name
		opt = o
	}
	return opt, nil
}
