import Challenge.Instances.KeccakF1600.Interface
import Challenge.Instances.KeccakF1600.Cost
import Challenge.Utils.CostR1CS

/-!
# Keccak-f[1600] Permutation: solution template

Replace the bodies below with your circuit and its proofs, keep the names the
comparator config lists, and submit this file (and any helper files beside it)
as `artifact` parts with the cost your `mainCost` theorem proves.
-/

namespace Solution.KeccakF1600

open Challenge.Instances.KeccakF1600.Interface
open Challenge.CostR1CS

def main : Unit := ()

@[reducible] def allocations : Nat := 153600
@[reducible] def constraints : Nat := 153600

theorem soundness : True := by
  sorry

theorem completeness : True := by
  sorry

theorem mainCost : allocations + constraints = 307200 := by
  rfl

end Solution.KeccakF1600
