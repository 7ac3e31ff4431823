import Challenge.Utils.CostR1CS

namespace Challenge.Instances.SHA256Compression.Cost

/-- The cost a solution states and proves with `mainCost`. -/
structure Claim where
  allocations : ℕ
  constraints : ℕ

end Challenge.Instances.SHA256Compression.Cost
