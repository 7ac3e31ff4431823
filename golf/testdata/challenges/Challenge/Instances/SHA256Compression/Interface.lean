import Challenge.Utils.CostR1CS

namespace Challenge.Instances.SHA256Compression.Interface

open Challenge.CostR1CS

structure Input (F : Type) where
  state : Vector F 8
  block : Vector F 16

axiom hPrime : Fact (Nat.Prime circomPrime)

def Spec (input : Input ℕ) (output : Vector ℕ 8) : Prop :=
  output = sha256Compress input.state input.block

end Challenge.Instances.SHA256Compression.Interface
