//! Defaults shared by `switch run` and the provisioning commands, so a number
//! provisioned without flags authenticates against a switch run without flags.

/// The SIP domain the switch serves when none is configured. It is also the
/// digest realm subscribers' HA1 values are computed for.
pub const DEFAULT_DOMAIN: &str = "switch.local";

/// Where the switch keeps its state (`switch.db`) when `--data-dir` is absent.
pub const DEFAULT_DATA_DIR: &str = "./switch-data";
