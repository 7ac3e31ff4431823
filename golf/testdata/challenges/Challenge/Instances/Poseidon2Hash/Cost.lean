import Challenge.Utils.CostR1CS

namespace Challenge.Instances.Poseidon2Hash.Cost

/-- The cost a solution states and proves with `mainCost`. -/
structure Claim where
  allocations : ℕ
  constraints : ℕ

end Challenge.Instances.Poseidon2Hash.Cost
