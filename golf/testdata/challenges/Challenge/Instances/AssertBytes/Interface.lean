import Challenge.Utils.CostR1CS

namespace Challenge.Instances.AssertBytes.Interface

open Challenge.CostR1CS

structure Input (F : Type) where
  buffer : Vector F 16

-- No axiom: the field needs no primality fact here.

def Spec (input : Input ℕ) (output : unit) : Prop :=
  ∀ i : Fin 16, (input.buffer[i]).val < 256

end Challenge.Instances.AssertBytes.Interface
