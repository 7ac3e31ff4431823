package pool

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
)

//go:embed catalogue.json
var catalogueJSON []byte

// TaskTypeSeeds is one task type of the catalogue and the algorithms the
// Pool starts it from.
type TaskTypeSeeds struct {
	TaskType    string `json:"task_type"`
	Description string `json:"description"`
	Seeds       []Seed `json:"seeds"`
}

// Seed is one seed algorithm.
type Seed struct {
	Name string `json:"name"`
	DSL  string `json:"dsl"`
}

var catalogue = sync.OnceValue(func() []TaskTypeSeeds {
	var c struct {
		TaskTypes []TaskTypeSeeds `json:"task_types"`
	}
	if err := json.Unmarshal(catalogueJSON, &c); err != nil {
		panic(fmt.Sprintf("pool: embedded catalogue: %v", err))
	}
	return c.TaskTypes
})

// Catalogue returns the embedded task types and their seed algorithms.
func Catalogue() []TaskTypeSeeds { return catalogue() }

// TaskTypes lists the task types served, sorted.
func TaskTypes() []string {
	var out []string
	for _, t := range catalogue() {
		out = append(out, t.TaskType)
	}
	slices.Sort(out)
	return out
}

// KnownTaskType reports whether tt is served.
func KnownTaskType(tt string) bool { return slices.Contains(TaskTypes(), tt) }

// Digest identifies an algorithm by its task type and exact DSL, so the
// same algorithm is stored once.
func Digest(taskType, dsl string) string {
	h := sha256.New()
	h.Write([]byte(taskType))
	h.Write([]byte{0})
	h.Write([]byte(dsl))
	return hex.EncodeToString(h.Sum(nil))
}
