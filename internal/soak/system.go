package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the database/sql driver "pgx"
	"github.com/jmoiron/sqlx"
)

// system is everything the soak started.
type system struct {
	cfg      config
	dir      string
	pg       *postgres
	redis    *proc
	redisDir string
	coords   []*proc
	urls     []string
	agents   []*agentProc
	clusters []cluster
	db       *sqlx.DB
	operator string
	timeline *timeline
}

// cluster is one of the soak's prover clusters.
type cluster struct {
	name, uuid string
}

// agentProc is a prover agent and what identifies it in the database.
type agentProc struct {
	*proc
	name    string
	cluster int
	replica int
}

// startSystem starts PostgreSQL, Redis, the coordinators and the agents,
// and creates the tokens and clusters. On error the caller still closes
// what was started.
func startSystem(ctx context.Context, cfg config) (*system, error) {
	for _, b := range []string{"coordinator", "agent"} {
		if _, err := os.Stat(filepath.Join(cfg.bin, b)); err != nil {
			return nil, fmt.Errorf("%s not found: run make build first (or set --bin)", filepath.Join(cfg.bin, b))
		}
	}
	redisBin, err := exec.LookPath(cfg.redisServer)
	if err != nil {
		return nil, fmt.Errorf("redis-server not found: install the redis-server package (scripts/ensure-deps.sh)")
	}
	bin, err := filepath.Abs(cfg.bin)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "proofgrid-soak-")
	if err != nil {
		return nil, err
	}
	// The postgres user must reach its directory inside.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	s := &system{cfg: cfg, dir: dir, timeline: newTimeline()}
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return s, err
	}

	s.timeline.add("starting PostgreSQL and Redis in %s", dir)
	if s.pg, err = newPostgres(cfg.pgBin, filepath.Join(dir, "pg")); err != nil {
		return s, err
	}
	if err := s.pg.init(); err != nil {
		return s, err
	}
	s.redisDir = filepath.Join(dir, "redis")
	if err := os.MkdirAll(s.redisDir, 0o755); err != nil {
		return s, err
	}
	redisPort, err := freePort()
	if err != nil {
		return s, err
	}
	s.redis = &proc{name: "redis", bin: redisBin, log: filepath.Join(logs, "redis.log"), args: []string{
		"--port", strconv.Itoa(redisPort), "--bind", "127.0.0.1", "--dir", s.redisDir,
		"--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy", "noeviction", "--save", "",
	}}
	if err := s.startRedis(ctx, redisPort); err != nil {
		return s, err
	}
	if s.db, err = sqlx.Open("pgx", s.pg.URL()); err != nil {
		return s, err
	}
	s.db.SetMaxOpenConns(4)

	common := []string{
		"PROOFGRID_DATABASE_URL=" + s.pg.URL(),
		"PROOFGRID_REDIS_URL=" + fmt.Sprintf("redis://127.0.0.1:%d/0", redisPort),
		"JWT_SECRET=soak-secret-" + randomHex(16),
		"PROOFGRID_HEARTBEAT_INTERVAL=2s",
		// Short checkpoints so that several close, and are rewarded,
		// during the run.
		"PROOFGRID_PSY_CHECKPOINT_LENGTH=" + cfg.checkpoint.String(),
		"PROOFGRID_PSY_CHECKPOINT_GRACE=5s",
		"PROOFGRID_LOG_LEVEL=info",
	}
	token := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "coordinator"), append([]string{"token", "create"}, args...)...)
		cmd.Env = append(os.Environ(), common...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("coordinator token create: %v: %s", err, stderr.String())
		}
		return strings.TrimSpace(string(out)), nil
	}
	if s.operator, err = token("--operator", "--team", "soak", "--label", "soak operator"); err != nil {
		return s, err
	}
	write, err := token("--team", "soak", "--mode", "write", "--label", "soak agents")
	if err != nil {
		return s, err
	}

	for i := range 2 {
		port, err := freePort()
		if err != nil {
			return s, err
		}
		data := filepath.Join(dir, fmt.Sprintf("coordinator-%d", i+1))
		if err := os.MkdirAll(data, 0o700); err != nil {
			return s, err
		}
		env := append(append([]string{}, common...),
			fmt.Sprintf("PROOFGRID_HTTP_ADDR=127.0.0.1:%d", port),
			"PROOFGRID_DATA_DIR="+data)
		p := &proc{name: fmt.Sprintf("coordinator-%d", i+1), bin: filepath.Join(bin, "coordinator"), env: env,
			args: append([]string{"serve"}, fields(cfg.coordFlags)...), log: filepath.Join(logs, fmt.Sprintf("coordinator-%d.log", i+1))}
		s.coords = append(s.coords, p)
		s.urls = append(s.urls, fmt.Sprintf("http://127.0.0.1:%d", port))
		if err := s.startCoordinator(ctx, i); err != nil {
			return s, err
		}
	}
	s.timeline.add("coordinators ready at %s and %s", s.urls[0], s.urls[1])

	for i, name := range []string{"soak-a", "soak-b"} {
		var created map[string]any
		code, err := s.api(ctx, s.urls[i%2], "POST", "/api/v0/clusters", map[string]any{
			"name": name, "zkvm_version_id": 1, "num_gpus": 1, "hardware_description": "soak", "deployment_type": "on-prem",
		}, &created)
		if err != nil || code/100 != 2 {
			return s, fmt.Errorf("create cluster %s: %d %v", name, code, err)
		}
		var list []struct {
			Name string `json:"name"`
			UUID string `json:"uuid"`
		}
		if _, err := s.api(ctx, s.urls[0], "GET", "/api/v0/clusters", nil, &list); err != nil {
			return s, err
		}
		for _, c := range list {
			if c.Name == name {
				s.clusters = append(s.clusters, cluster{name: name, uuid: c.UUID})
			}
		}
		if len(s.clusters) != i+1 {
			return s, fmt.Errorf("cluster %s not listed after creation", name)
		}
	}

	// Agents 1 and 2 prove for cluster a, 3 and 4 for cluster b; the odd
	// ones talk to replica 1, the even ones to replica 2.
	for i := range 4 {
		name := fmt.Sprintf("soak-agent-%d", i+1)
		a := &agentProc{name: name, cluster: i / 2, replica: i % 2}
		state := filepath.Join(dir, name)
		if err := os.MkdirAll(state, 0o700); err != nil {
			return s, err
		}
		a.proc = &proc{name: name, bin: filepath.Join(bin, "agent"), log: filepath.Join(logs, name+".log"),
			env: []string{"PROOFGRID_AGENT_TOKEN=" + write},
			args: append([]string{"run", "--coordinator", s.urls[a.replica], "--role", "prover",
				"--cluster", s.clusters[a.cluster].uuid, "--name", name, "--state-dir", state, "--interval", "2s",
				"--demo-steps", strconv.FormatUint(cfg.demoSteps, 10)}, fields(cfg.agentFlags)...)}
		if err := a.start(); err != nil {
			return s, err
		}
		s.agents = append(s.agents, a)
	}
	err = waitFor(ctx, 60*time.Second, "the four agents to enrol", func() bool {
		var n int
		return s.db.GetContext(ctx, &n, `SELECT count(*) FROM machines WHERE name LIKE 'soak-agent-%'`) == nil && n == 4
	})
	if err != nil {
		return s, err
	}
	s.timeline.add("4 agents enrolled (clusters %s and %s, %d demo steps a proof)", s.clusters[0].uuid, s.clusters[1].uuid, cfg.demoSteps)
	return s, nil
}

func (s *system) startRedis(ctx context.Context, port int) error {
	if err := s.redis.start(); err != nil {
		return err
	}
	return waitFor(ctx, 30*time.Second, "redis-server", func() bool { return redisPing(port) })
}

func (s *system) redisPort() int {
	for i, a := range s.redis.args {
		if a == "--port" {
			n, _ := strconv.Atoi(s.redis.args[i+1])
			return n
		}
	}
	return 0
}

func (s *system) startCoordinator(ctx context.Context, i int) error {
	if err := s.coords[i].start(); err != nil {
		return err
	}
	err := waitFor(ctx, 60*time.Second, s.coords[i].name+" to be ready", func() bool { return httpReady(s.urls[i] + "/readyz") })
	if err != nil {
		return fmt.Errorf("%w (log: %s)\n%s", err, s.coords[i].log, tail(s.coords[i].log, 20))
	}
	return nil
}

// restartStopped starts again every process a fault left down.
func (s *system) restartStopped(ctx context.Context) error {
	if !s.redis.running() {
		s.timeline.add("redis was down at the end of feeding: starting it")
		if err := s.startRedis(ctx, s.redisPort()); err != nil {
			return err
		}
	}
	for i, c := range s.coords {
		if !c.running() {
			s.timeline.add("%s was down at the end of feeding: starting it", c.name)
			if err := s.startCoordinator(ctx, i); err != nil {
				return err
			}
		}
	}
	for _, a := range s.agents {
		if !a.running() {
			s.timeline.add("%s was down at the end of feeding: starting it", a.name)
			if err := a.start(); err != nil {
				return err
			}
		}
	}
	return nil
}

// close stops everything in order (agents, coordinators, Redis,
// PostgreSQL) and removes the directory unless --keep.
func (s *system) close() {
	var wg sync.WaitGroup
	for _, a := range s.agents {
		wg.Add(1)
		go func() { defer wg.Done(); a.stop() }()
	}
	wg.Wait()
	for _, c := range s.coords {
		wg.Add(1)
		go func() { defer wg.Done(); c.stop() }()
	}
	wg.Wait()
	if s.db != nil {
		s.db.Close()
	}
	if s.redis != nil {
		s.redis.stop()
	}
	if s.pg != nil {
		if err := s.pg.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "soak: stop PostgreSQL:", err)
		}
	}
	if !s.cfg.keep {
		os.RemoveAll(s.dir)
	}
}

// api sends an operator request; out, when not nil, receives the JSON
// answer of a 2xx.
func (s *system) api(ctx context.Context, base, method, path string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, base+path, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+s.operator)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, err
		}
	}
	return resp.StatusCode, nil
}

// feedResult is what the feeder recorded.
type feedResult struct {
	blocks   []int64
	failures int
}

// feed posts one block every blockEvery, alternating replicas; a block
// that neither replica accepts is tried again at the next tick, so the
// numbers fed have no gaps.
func (s *system) feed(ctx context.Context) feedResult {
	var r feedResult
	next := s.cfg.firstBlock
	t := time.NewTicker(s.cfg.blockEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return r
		case <-t.C:
		}
		for try := range 2 {
			base := s.urls[(int(next)+try)%2]
			sum := sha256.Sum256([]byte(fmt.Sprintf("proofgrid soak block %d", next)))
			code, err := s.api(ctx, base, "POST", "/api/v0/blocks", map[string]any{
				"block_number": next, "hash": "0x" + hex.EncodeToString(sum[:]),
			}, nil)
			if err == nil && code/100 == 2 {
				r.blocks = append(r.blocks, next)
				next++
				break
			}
			if ctx.Err() != nil {
				return r
			}
			r.failures++
		}
	}
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// timeline is the list of events with their times, printed at the end.
type timeline struct {
	mu     sync.Mutex
	start  time.Time
	events []event
}

type event struct {
	at   time.Time
	what string
}

func newTimeline() *timeline { return &timeline{start: time.Now()} }

func (t *timeline) add(format string, args ...any) {
	e := event{at: time.Now(), what: fmt.Sprintf(format, args...)}
	t.mu.Lock()
	t.events = append(t.events, e)
	t.mu.Unlock()
	fmt.Fprintf(os.Stderr, "soak %s +%6.1fs  %s\n", e.at.Format("15:04:05.000"), e.at.Sub(t.start).Seconds(), e.what)
}
