import Challenge.Instances.AssertBytes.Interface
import Challenge.Instances.AssertBytes.Cost
import Challenge.Utils.CostR1CS

/-!
# Byte Array Assertion: solution template

Replace the bodies below with your circuit and its proofs, keep the names the
comparator config lists, and submit this file (and any helper files beside it)
as `artifact` parts with the cost your `mainCost` theorem proves.
-/

namespace Solution.AssertBytes

open Challenge.Instances.AssertBytes.Interface
open Challenge.CostR1CS

def main : Unit := ()

@[reducible] def allocations : Nat := 128
@[reducible] def constraints : Nat := 144

theorem soundness : True := by
  sorry

theorem completeness : True := by
  sorry

theorem mainCost : allocations + constraints = 272 := by
  rfl

end Solution.AssertBytes
