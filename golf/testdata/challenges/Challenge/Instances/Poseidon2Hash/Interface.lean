import Challenge.Utils.CostR1CS

namespace Challenge.Instances.Poseidon2Hash.Interface

open Challenge.CostR1CS

structure Input (F : Type) where
  left : F
  right : F

axiom hPrime : Fact (Nat.Prime circomPrime)

def Spec (input : Input ℕ) (output : ℕ) : Prop :=
  output = poseidon2 [input.left, input.right]

end Challenge.Instances.Poseidon2Hash.Interface
