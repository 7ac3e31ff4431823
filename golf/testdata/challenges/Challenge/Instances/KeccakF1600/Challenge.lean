import Challenge.Instances.KeccakF1600.Interface
import Challenge.Instances.KeccakF1600.Cost

/-! The statements the comparator checks the solution module against. -/

namespace Challenge.Instances.KeccakF1600.Challenge
open Challenge.Instances.KeccakF1600.Interface

theorem soundness_statement : True := trivial

end Challenge.Instances.KeccakF1600.Challenge
