import Challenge.Utils.CostR1CS

namespace Challenge.Instances.AssertBytes.Cost

/-- The cost a solution states and proves with `mainCost`. -/
structure Claim where
  allocations : ℕ
  constraints : ℕ

end Challenge.Instances.AssertBytes.Cost
