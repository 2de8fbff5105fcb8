//! The memory budget: the most bytes one piece of volume data (a file's samples, a phantom grid) may
//! take. Readers check it before they allocate, so a corrupt header or a compressed bomb is an
//! error naming the sizes, never an allocation that takes the machine down.
//!
//! The budget is what [`set_budget_bytes`] set (the command line's `--memory-budget` or
//! `ALLOYFIT_MEMORY_BUDGET`), else three quarters of the memory available when first asked (Linux
//! `/proc/meminfo`), else [`FALLBACK_BUDGET_BYTES`].

use std::sync::OnceLock;

use anyhow::{Context, Result, bail, ensure};
use thiserror::Error;

/// The budget where the available memory cannot be read.
pub const FALLBACK_BUDGET_BYTES: u64 = 8 << 30;
/// The share of available memory one allocation may take by default: the rest is for the copies
/// a run makes beside it (reconstructions, the simulation's two fields).
const AVAILABLE_SHARE: f64 = 0.75;

static BUDGET_BYTES: OnceLock<u64> = OnceLock::new();

/// An allocation the budget refuses.
#[derive(Debug, Error)]
#[error(
    "{what} needs {} but the memory budget is {}; raise it with --memory-budget (or ALLOYFIT_MEMORY_BUDGET) if the machine has the memory",
    human_bytes(*.bytes),
    human_bytes(*.budget_bytes)
)]
pub struct OverBudget {
    pub what: String,
    pub bytes: u64,
    pub budget_bytes: u64,
}

/// Sets the budget for the rest of the process; the first call wins.
pub fn set_budget_bytes(bytes: u64) {
    let _ = BUDGET_BYTES.set(bytes);
}

/// The budget in bytes (see the module documentation for where it comes from).
pub fn budget_bytes() -> u64 {
    *BUDGET_BYTES.get_or_init(|| {
        available_bytes().map_or(FALLBACK_BUDGET_BYTES, |available| {
            (available as f64 * AVAILABLE_SHARE) as u64
        })
    })
}

/// Refuses `bytes` for `what` if they exceed the budget.
pub fn check(what: impl FnOnce() -> String, bytes: u64) -> Result<(), OverBudget> {
    let budget_bytes = budget_bytes();
    if bytes > budget_bytes {
        return Err(OverBudget {
            what: what(),
            bytes,
            budget_bytes,
        });
    }
    Ok(())
}

/// `MemAvailable` from `/proc/meminfo`, where there is one.
fn available_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Parses a size such as `512MiB`, `8GiB`, `2.5G` or `1000000` (bytes). Units are binary
/// (K, M, G, T with or without `iB`/`B`).
pub fn parse_size(text: &str) -> Result<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .with_context(|| format!("'{text}' is not a size such as 512MiB or 8GiB"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        other => bail!("'{other}' in '{text}' is not a size unit; use B, KiB, MiB, GiB or TiB"),
    };
    let bytes = value * scale as f64;
    ensure!(
        bytes >= 1.0 && bytes < u64::MAX as f64,
        "size '{text}' must be at least one byte"
    );
    Ok(bytes as u64)
}

/// `1.5 GiB`-style text for messages.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert_eq!(parse_size("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_size("8 GiB").unwrap(), 8 << 30);
        assert_eq!(parse_size("2.5g").unwrap(), 5 << 29);
        for bad in ["", "GiB", "-1G", "1 parsec", "0", "1e3"] {
            assert!(parse_size(bad).is_err(), "'{bad}' should be refused");
        }
    }

    #[test]
    fn sizes_print_in_the_largest_whole_unit() {
        assert_eq!(human_bytes(100), "100 B");
        assert_eq!(human_bytes(3 << 29), "1.5 GiB");
    }
}
