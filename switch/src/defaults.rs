//! Defaults shared by `switch run` and the provisioning commands, so a number
//! provisioned without flags authenticates against a switch run without flags.

/// The SIP domain the switch serves when none is configured. It is also the
/// digest realm subscribers' HA1 values are computed for.
pub const DEFAULT_DOMAIN: &str = "switch.local";

/// Where the switch keeps its state (`switch.db`) when `--data-dir` is absent.
pub const DEFAULT_DATA_DIR: &str = "./switch-data";

/// The file in the data dir that holds the domain `switch run` last served, so
/// `switch subscriber add` without `--realm` provisions numbers for it (HA1s are
/// computed for a realm: a number provisioned for another one is refused forever).
pub const DOMAIN_FILE: &str = "domain";

/// Writes `domain` as the one the switch on `data_dir` serves.
pub fn remember_domain(data_dir: &std::path::Path, domain: &str) -> std::io::Result<()> {
    std::fs::write(data_dir.join(DOMAIN_FILE), format!("{domain}\n"))
}

/// The domain `switch run` last served on `data_dir`, if it ran there.
pub fn remembered_domain(data_dir: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(data_dir.join(DOMAIN_FILE)).ok()?;
    let domain = text.trim();
    (!domain.is_empty()).then(|| domain.to_owned())
}
