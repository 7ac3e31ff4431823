import Challenge.Instances.Poseidon2Hash.Interface
import Challenge.Instances.Poseidon2Hash.Cost

/-! The statements the comparator checks the solution module against. -/

namespace Challenge.Instances.Poseidon2Hash.Challenge
open Challenge.Instances.Poseidon2Hash.Interface

theorem soundness_statement : True := trivial

end Challenge.Instances.Poseidon2Hash.Challenge
