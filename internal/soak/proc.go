package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one child process that the soak may kill and start again with
// the same command line. Its output is appended to one log file across
// restarts.
type proc struct {
	name string
	bin  string
	args []string
	env  []string
	log  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// start runs the process. Each child gets a process group of its own so
// that a Ctrl-C on the terminal reaches the soak alone, which then stops
// the children in order; Pdeathsig kills a child whose parent died
// without cleaning up.
func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("%s is already running", p.name)
	}
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "==== soak: starting %s at %s\n", p.name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		f.Close()
		close(done)
	}()
	p.cmd, p.done = cmd, done
	return nil
}

// signal sends sig and waits up to wait for the process to exit, then
// kills it. It returns false when the process was not running.
func (p *proc) signal(sig syscall.Signal, wait time.Duration) bool {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd, p.done = nil, nil
	p.mu.Unlock()
	if cmd == nil {
		return false
	}
	cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(wait):
		cmd.Process.Kill()
		<-done
	}
	return true
}

// kill sends SIGKILL: the fault the soak injects.
func (p *proc) kill() bool { return p.signal(syscall.SIGKILL, 10*time.Second) }

// stop asks the process to exit (SIGTERM) and kills it after 15 s.
func (p *proc) stop() bool { return p.signal(syscall.SIGTERM, 15*time.Second) }

// running reports whether the process is alive.
func (p *proc) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// freePort returns a loopback TCP port that nothing listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitFor polls cond every 100 ms until it holds, ctx ends or timeout
// passes.
func waitFor(ctx context.Context, timeout time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s", timeout, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// httpReady reports whether url answers 200.
func httpReady(url string) bool {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// redisPing reports whether a Redis server answers PING on port.
func redisPing(port int) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	buf := make([]byte, 7)
	n, _ := c.Read(buf)
	return strings.HasPrefix(string(buf[:n]), "+PONG")
}

// postgres is a PostgreSQL cluster in a directory of the soak, run with
// pg_ctl so that it can be restarted; as root it runs as the postgres
// user, since initdb and postgres refuse root.
type postgres struct {
	bin, dir string
	port     int
	asUser   []string
}

func newPostgres(bin, dir string) (*postgres, error) {
	pg := &postgres{bin: bin, dir: dir}
	for _, b := range []string{"initdb", "pg_ctl"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			return nil, fmt.Errorf("%s not found: install postgresql-15 (scripts/ensure-deps.sh) or set --pg-bin", filepath.Join(bin, b))
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "run"), 0o755); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		pg.asUser = []string{"runuser", "-u", "postgres", "--"}
		if out, err := exec.Command("chown", "-R", "postgres:", dir).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("chown %s: %v: %s", dir, err, out)
		}
	}
	return pg, nil
}

func (pg *postgres) run(args ...string) error {
	argv := append(append([]string{}, pg.asUser...), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = pg.dir
	// Its own process group: a Ctrl-C must not stop the server behind the
	// soak's back.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", filepath.Base(args[0]), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (pg *postgres) data() string { return filepath.Join(pg.dir, "data") }

// init creates the cluster and starts it on a free port.
func (pg *postgres) init() error {
	if err := pg.run(filepath.Join(pg.bin, "initdb"), "-D", pg.data(), "-U", "postgres", "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync"); err != nil {
		return err
	}
	var err error
	for range 5 {
		if pg.port, err = freePort(); err != nil {
			return err
		}
		// fsync is off: the soak restarts PostgreSQL cleanly (pg_ctl
		// restart -m fast), which writes everything out anyway.
		opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c max_connections=300",
			pg.port, filepath.Join(pg.dir, "run"))
		if err = pg.run(filepath.Join(pg.bin, "pg_ctl"), "-D", pg.data(), "-l", filepath.Join(pg.dir, "postgres.log"),
			"-w", "-t", "60", "-o", opts, "start"); err == nil {
			return nil
		}
	}
	return err
}

// URL is the database URL of the cluster's postgres database.
func (pg *postgres) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", pg.port)
}

// restart is the fault: a fast shutdown (open connections are cut) and a
// start with the same options.
func (pg *postgres) restart() error {
	return pg.run(filepath.Join(pg.bin, "pg_ctl"), "-D", pg.data(), "-l", filepath.Join(pg.dir, "postgres.log"),
		"-m", "fast", "-w", "-t", "60", "restart")
}

// stop shuts the cluster down at the end; it kills the postmaster when
// pg_ctl cannot.
func (pg *postgres) stop() error {
	err := pg.run(filepath.Join(pg.bin, "pg_ctl"), "-D", pg.data(), "-m", "immediate", "-w", "-t", "30", "stop")
	if err == nil {
		return nil
	}
	raw, rerr := os.ReadFile(filepath.Join(pg.data(), "postmaster.pid"))
	if rerr != nil {
		if errors.Is(rerr, os.ErrNotExist) {
			return nil
		}
		return err
	}
	if pid, perr := strconv.Atoi(strings.SplitN(string(raw), "\n", 2)[0]); perr == nil {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	return err
}
