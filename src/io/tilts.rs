//! Tilt angles in degrees: from a text file with one angle per line (IMOD `.tlt` / `.rawtlt`; blank
//! lines and `#` comments are skipped) or from a command-line spec, either a range
//! `start:stop:step` (both ends included) or a comma-separated list.

use std::path::Path;

use anyhow::{Context, Result, bail, ensure};

/// The most angles a tilt series may have: far beyond any acquisition, and a bound on what a
/// range spec or file can make alloyfit allocate.
const MAX_ANGLES: usize = 100_000;

/// The default tilt series of docs/METHOD.md §2: −70° to +70° in 2° steps (71 projections).
pub fn default_tilts_deg() -> Vec<f64> {
    (0..=70).map(|n| -70.0 + 2.0 * f64::from(n)).collect()
}

/// Reads one angle per line from a text file.
pub fn read_tilt_file(path: &Path) -> Result<Vec<f64>> {
    let text = crate::io::read_text(path, "tilt angle file")?;
    parse_tilt_text(&text, path)
}

/// Parses a tilt file's text, one angle per line; `origin` names the file in errors.
pub fn parse_tilt_text(text: &str, origin: &Path) -> Result<Vec<f64>> {
    let mut angles = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let content = line.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let angle = parse_angle(content)
            .with_context(|| format!("{}, line {}", origin.display(), number + 1))?;
        angles.push(angle);
        ensure!(
            angles.len() <= MAX_ANGLES,
            "{}: more than {MAX_ANGLES} tilt angles; that is not a tilt series",
            origin.display()
        );
    }
    ensure!(
        !angles.is_empty(),
        "{}: no tilt angles in the file",
        origin.display()
    );
    Ok(angles)
}

/// Parses `start:stop:step` or `a,b,c` (degrees).
pub fn parse_tilt_spec(spec: &str) -> Result<Vec<f64>> {
    let spec = spec.trim();
    ensure!(!spec.is_empty(), "empty tilt angle list");
    if spec.contains(':') {
        let parts: Vec<&str> = spec.split(':').collect();
        let [start, stop, step] = parts.as_slice() else {
            bail!("tilt range '{spec}' must be start:stop:step, e.g. -70:70:2");
        };
        let (start, stop, step) = (parse_angle(start)?, parse_angle(stop)?, parse_angle(step)?);
        ensure!(
            step != 0.0 && (stop - start) * step >= 0.0,
            "tilt range '{spec}': step {step} does not lead from {start} to {stop}"
        );
        // A small allowance so that e.g. -70:70:0.1 includes 70 despite rounding.
        let count = ((stop - start) / step + 1e-9).floor() + 1.0;
        ensure!(
            count <= MAX_ANGLES as f64,
            "tilt range '{spec}' gives {count} angles; that is not a tilt series"
        );
        let count = count as usize;
        Ok((0..count).map(|n| start + n as f64 * step).collect())
    } else {
        spec.split(',').map(|a| parse_angle(a.trim())).collect()
    }
}

fn parse_angle(text: &str) -> Result<f64> {
    let angle: f64 = text
        .trim()
        .parse()
        .with_context(|| format!("'{text}' is not a tilt angle in degrees"))?;
    ensure!(
        angle.is_finite(),
        "tilt angle '{text}' is not a finite number"
    );
    Ok(angle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_series_is_71_angles_from_minus_to_plus_70() {
        let tilts = default_tilts_deg();
        assert_eq!(tilts.len(), 71);
        assert_eq!(tilts, parse_tilt_spec("-70:70:2").unwrap());
        assert_eq!((tilts[0], tilts[35], tilts[70]), (-70.0, 0.0, 70.0));
    }

    #[test]
    fn specs_parse_as_ranges_or_lists() {
        assert_eq!(parse_tilt_spec("0,45, 90").unwrap(), vec![0.0, 45.0, 90.0]);
        assert_eq!(
            parse_tilt_spec("10:-10:-10").unwrap(),
            vec![10.0, 0.0, -10.0]
        );
        assert_eq!(parse_tilt_spec("0:1:0.1").unwrap().len(), 11);
        for bad in [
            "",
            "1:2",
            "0:10:-1",
            "0:10:0",
            "a,b",
            "nan",
            "inf,0",
            "0:1e300:1e-300",
        ] {
            assert!(parse_tilt_spec(bad).is_err(), "'{bad}' should be refused");
        }
    }
}
