package activity

import "strings"

// Job filter categories (JobFilterCategory of the Psy API).
const (
	CategoryAll                = "All"
	CategoryUserRegistration   = "UserRegistration"
	CategoryContractDeployment = "ContractDeployment"
	CategoryContractExecution  = "ContractExecution"
	CategoryMaintenance        = "Maintenance"
)

// Categories lists the accepted category values.
var Categories = []string{CategoryAll, CategoryUserRegistration, CategoryContractDeployment, CategoryContractExecution, CategoryMaintenance}

// categoryPrefixes maps a category to the circuit-type prefixes that
// belong to it. Every circuit type that matches none of them, including
// proofgrid's own "<zkvm>/<version>" proving circuits, is Maintenance.
var categoryPrefixes = map[string][]string{
	CategoryUserRegistration:   {"UserRegistration", "RegisterUser"},
	CategoryContractDeployment: {"ContractDeployment", "DeployContract"},
	CategoryContractExecution:  {"ContractExecution", "ContractFunction", "UserTransaction"},
}

// CategoryFilter returns the circuit-type prefixes that select category
// and whether matching types are to be excluded instead (Maintenance is
// everything else). All, or "", selects everything: nil prefixes.
func CategoryFilter(category string) (prefixes []string, exclude bool) {
	switch category {
	case "", CategoryAll:
		return nil, false
	case CategoryMaintenance:
		for _, c := range []string{CategoryUserRegistration, CategoryContractDeployment, CategoryContractExecution} {
			prefixes = append(prefixes, categoryPrefixes[c]...)
		}
		return prefixes, true
	}
	return categoryPrefixes[category], false
}

// CategoryOf returns the category of a circuit type.
func CategoryOf(circuitType string) string {
	for _, c := range []string{CategoryUserRegistration, CategoryContractDeployment, CategoryContractExecution} {
		for _, p := range categoryPrefixes[c] {
			if strings.HasPrefix(circuitType, p) {
				return c
			}
		}
	}
	return CategoryMaintenance
}
