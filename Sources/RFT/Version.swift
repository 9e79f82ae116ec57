/// The rft version written into checkpoints and printed by `rft --version`.
public let rftVersion = "0.1.0"
