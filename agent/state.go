package agent

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Files in Config.StateDir.
const (
	keyFile     = "agent.key"
	machineFile = "machine.json"
)

// machineState is machine.json: what the last successful enrolment said,
// plus what it was asked with, so that a restart can tell whether the
// stored queues still apply.
type machineState struct {
	MachineID         string    `json:"machine_id"`
	Queues            []string  `json:"queues"`
	RedisURL          string    `json:"redis_url,omitempty"`
	HeartbeatInterval int       `json:"heartbeat_interval_seconds,omitempty"`
	CoordinatorURL    string    `json:"coordinator_url"`
	Role              string    `json:"role"`
	ClusterID         string    `json:"cluster_id,omitempty"`
	PublicKey         string    `json:"public_key"`
	EnrolledAt        time.Time `json:"enrolled_at"`
}

// sameJobs reports whether s and o name the same place to take jobs from.
func (s machineState) sameJobs(o machineState) bool {
	return s.MachineID == o.MachineID && s.RedisURL == o.RedisURL && slices.Equal(s.Queues, o.Queues)
}

// ensureStateDir creates dir owner-only; an existing directory keeps its
// mode, since an operator may have chosen it deliberately.
func ensureStateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("agent: state directory: %w", err)
	}
	return nil
}

// loadOrCreateKey returns the agent's Ed25519 key from dir, generating and
// storing one on first start. The key is the machine's identity: losing it
// means enrolling as a new machine. loose reports a key file readable by
// others than its owner.
func loadOrCreateKey(dir string) (key ed25519.PrivateKey, created, loose bool, err error) {
	path := filepath.Join(dir, keyFile)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		key, err = parseKey(data)
		if err != nil {
			return nil, false, false, fmt.Errorf("agent: %s: %w (remove it to enrol as a new machine)", path, err)
		}
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			loose = true
		}
		return key, false, loose, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, false, false, fmt.Errorf("agent: read key: %w", err)
	}
	_, key, err = ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, false, fmt.Errorf("agent: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, false, false, fmt.Errorf("agent: encode key: %w", err)
	}
	if err := writeFileAtomic(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, false, false, fmt.Errorf("agent: store key: %w", err)
	}
	return key, true, false, nil
}

func parseKey(data []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("no PEM PRIVATE KEY block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key is %T, not Ed25519", k)
	}
	return key, nil
}

// loadMachine reads machine.json; ok is false when there is none yet.
func loadMachine(dir string) (st machineState, ok bool, err error) {
	data, err := os.ReadFile(filepath.Join(dir, machineFile))
	if errors.Is(err, fs.ErrNotExist) {
		return st, false, nil
	} else if err != nil {
		return st, false, fmt.Errorf("agent: read %s: %w", machineFile, err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return machineState{}, false, fmt.Errorf("agent: parse %s: %w", machineFile, err)
	}
	return st, st.MachineID != "", nil
}

// saveMachine writes machine.json owner-only, since the Redis URL in it
// may carry a password.
func saveMachine(dir string, st machineState) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, machineFile), append(data, '\n'), 0o600)
}

// writeFileAtomic replaces path with data through a synced temporary file
// and a rename, so a crash leaves the old file or the new one, never half
// of either.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // fails harmlessly once renamed
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
