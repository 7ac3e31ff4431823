import Challenge.Instances.AssertBytes.Interface
import Challenge.Instances.AssertBytes.Cost

/-! The statements the comparator checks the solution module against. -/

namespace Challenge.Instances.AssertBytes.Challenge
open Challenge.Instances.AssertBytes.Interface

theorem soundness_statement : True := trivial

end Challenge.Instances.AssertBytes.Challenge
