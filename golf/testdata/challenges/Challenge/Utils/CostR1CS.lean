/-!
# R1CS cost accounting

A circuit's cost is the pair (allocations, constraints); its score is the sum.
Inputs are allocated by the caller and are not counted.
-/

namespace Challenge.CostR1CS

/-- The BN254 scalar field modulus that circom uses. -/
def circomPrime : ℕ :=
  21888242871839275222246405745257275088548364400416034343698204186575808495617

structure Cost where
  allocations : ℕ
  constraints : ℕ

def Cost.score (c : Cost) : ℕ := c.allocations + c.constraints

end Challenge.CostR1CS
