import Challenge.Instances.SHA256Compression.Interface
import Challenge.Instances.SHA256Compression.Cost

/-! The statements the comparator checks the solution module against. -/

namespace Challenge.Instances.SHA256Compression.Challenge
open Challenge.Instances.SHA256Compression.Interface

theorem soundness_statement : True := trivial

end Challenge.Instances.SHA256Compression.Challenge
