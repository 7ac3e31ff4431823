import Challenge.Utils.CostR1CS

namespace Challenge.Instances.KeccakF1600.Interface

open Challenge.CostR1CS

structure Input (F : Type) where
  state : Vector F 1600

axiom hPrime : Fact (Nat.Prime circomPrime)

def Spec (input : Input ℕ) (output : Vector ℕ 1600) : Prop :=
  output = keccakF1600 input.state

end Challenge.Instances.KeccakF1600.Interface
