//! One-dimensional minimisation: a coarse scan that brackets the global minimum, then Brent's
//! method (golden-section steps, parabolic steps where they behave) to an absolute tolerance in x.

use anyhow::{Result, ensure};
use serde::Serialize;

/// (2 − φ): the golden-section fraction.
const GOLDEN: f64 = 0.381_966_011_250_105_1;
const MAX_ITERATIONS: usize = 200;
/// An objective within this relative distance of its minimum one scan step away is flat there.
const FLAT_RELATIVE: f64 = 0.01;

/// A minimum and how it was found.
#[derive(Debug, Clone, Serialize)]
pub struct Minimum {
    pub x: f64,
    pub value: f64,
    /// Every (x, f(x)) evaluated: the scan first, then Brent's.
    pub evaluations: Vec<(f64, f64)>,
    pub warnings: Vec<String>,
}

/// Brent's method on [low, high], starting from the interior point `start`, to |Δx| ≤ `tolerance`.
pub fn brent(
    f: &mut dyn FnMut(f64) -> Result<f64>,
    low: f64,
    high: f64,
    start: f64,
    tolerance: f64,
    evaluations: &mut Vec<(f64, f64)>,
) -> Result<(f64, f64)> {
    let (mut a, mut b) = (low, high);
    let mut evaluate = |x: f64| -> Result<f64> {
        let value = f(x)?;
        evaluations.push((x, value));
        Ok(value)
    };
    let (mut x, mut w, mut v) = (start, start, start);
    let mut fx = evaluate(x)?;
    let (mut fw, mut fv) = (fx, fx);
    let (mut step, mut previous_step) = (0.0f64, 0.0f64);
    for _ in 0..MAX_ITERATIONS {
        let middle = 0.5 * (a + b);
        let tol1 = tolerance / 2.0;
        let tol2 = 2.0 * tol1;
        if (x - middle).abs() <= tol2 - 0.5 * (b - a) {
            break;
        }
        let mut golden = true;
        if previous_step.abs() > tol1 {
            // A parabola through (x, fx), (w, fw), (v, fv).
            let r = (x - w) * (fx - fv);
            let mut q = (x - v) * (fx - fw);
            let mut p = (x - v) * q - (x - w) * r;
            q = 2.0 * (q - r);
            if q > 0.0 {
                p = -p;
            }
            q = q.abs();
            let older = previous_step;
            previous_step = step;
            if p.abs() < (0.5 * q * older).abs() && p > q * (a - x) && p < q * (b - x) {
                step = p / q;
                let u = x + step;
                if u - a < tol2 || b - u < tol2 {
                    step = tol1.copysign(middle - x);
                }
                golden = false;
            }
        }
        if golden {
            previous_step = if x >= middle { a - x } else { b - x };
            step = GOLDEN * previous_step;
        }
        let u = if step.abs() >= tol1 {
            x + step
        } else {
            x + tol1.copysign(step)
        };
        let fu = evaluate(u)?;
        if fu <= fx {
            if u >= x {
                a = x;
            } else {
                b = x;
            }
            (v, fv, w, fw, x, fx) = (w, fw, x, fx, u, fu);
        } else {
            if u < x {
                a = u;
            } else {
                b = u;
            }
            if fu <= fw || w == x {
                (v, fv, w, fw) = (w, fw, u, fu);
            } else if fu <= fv || v == x || v == w {
                (v, fv) = (u, fu);
            }
        }
    }
    Ok((x, fx))
}

/// Scans `scan_points` evenly spaced x in [low, high], then refines the best with Brent's method
/// between its neighbours. Warns when the minimum sits at a bound or the objective is flat there.
pub fn minimize(
    f: &mut dyn FnMut(f64) -> Result<f64>,
    low: f64,
    high: f64,
    scan_points: usize,
    tolerance: f64,
) -> Result<Minimum> {
    ensure!(
        low < high && scan_points >= 3,
        "bad search interval [{low}, {high}]"
    );
    let mut evaluations = Vec::new();
    let xs: Vec<f64> = (0..scan_points)
        .map(|n| low + (high - low) * n as f64 / (scan_points - 1) as f64)
        .collect();
    let mut values = Vec::with_capacity(scan_points);
    for &x in &xs {
        let value = f(x)?;
        evaluations.push((x, value));
        values.push(value);
    }
    let best = (0..scan_points)
        .min_by(|&i, &j| values[i].total_cmp(&values[j]))
        .expect("at least 3 points");
    let bracket_low = xs[best.saturating_sub(1)];
    let bracket_high = xs[(best + 1).min(scan_points - 1)];
    let (x, value) = if best == 0 || best == scan_points - 1 {
        // A bound: refine between it and its neighbour, starting half-way.
        let start = 0.5 * (bracket_low + bracket_high);
        let (x, value) = brent(
            f,
            bracket_low,
            bracket_high,
            start,
            tolerance,
            &mut evaluations,
        )?;
        if value <= values[best] {
            (x, value)
        } else {
            (xs[best], values[best])
        }
    } else {
        brent(
            f,
            bracket_low,
            bracket_high,
            xs[best],
            tolerance,
            &mut evaluations,
        )?
    };
    let mut warnings = Vec::new();
    // Flat: one scan step away on either side, the objective has not risen by 1%.
    let spacing = xs[1] - xs[0];
    let mut flat = false;
    for probe in [x - spacing, x + spacing] {
        if (low..=high).contains(&probe) {
            let probed = f(probe)?;
            evaluations.push((probe, probed));
            flat |= probed - value <= FLAT_RELATIVE * value.abs() + 1e-300;
        }
    }
    if flat {
        warnings.push(format!(
            "the objective is flat around its minimum (within {}% one scan step away): the data do not pin x down; saturated curves do this",
            FLAT_RELATIVE * 100.0
        ));
    }
    if (x - low).abs() <= 2.0 * tolerance || (high - x).abs() <= 2.0 * tolerance {
        warnings.push(format!(
            "the minimum lies at the search bound ({x:.4} in [{low}, {high}]): widen the bounds"
        ));
    }
    Ok(Minimum {
        x,
        value,
        evaluations,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOLERANCE: f64 = 1e-4;

    fn find(f: impl Fn(f64) -> f64, low: f64, high: f64) -> Minimum {
        minimize(&mut |x| Ok(f(x)), low, high, 21, TOLERANCE).unwrap()
    }

    #[test]
    fn finds_known_minima_to_the_tolerance() {
        let quadratic = find(|x| (x + 18.43).powi(2) + 0.01, -21.0, -16.0);
        assert!((quadratic.x + 18.43).abs() <= TOLERANCE, "{}", quadratic.x);
        assert!(quadratic.warnings.is_empty(), "{:?}", quadratic.warnings);
        // Not a parabola: a steep asymmetric valley.
        let skewed = find(|x| (x - 1.3f64).exp() - x, -3.0, 4.0);
        assert!((skewed.x - 1.3).abs() <= TOLERANCE, "{}", skewed.x);
        // Two minima: the scan finds the global one, not the nearer-to-centre local one.
        let double = find(|x| (x * x - 4.0).powi(2) + 0.5 * x, -3.0, 3.5);
        assert!(double.x < 0.0, "{}", double.x);
        let exact = -2.0 - 0.5 / 32.0 + 0.0;
        assert!((double.x - exact).abs() < 2e-3, "{}", double.x);
        // Brent's method cut the work compared with a fine scan.
        assert!(quadratic.evaluations.len() < 21 + 30);
    }

    #[test]
    fn minimum_near_a_bound_is_found_and_warned_about() {
        let inside = find(|x| (x - 2.98).powi(2), -3.0, 3.0);
        assert!((inside.x - 2.98).abs() <= TOLERANCE, "{}", inside.x);
        let outside = find(|x| (x - 3.5).powi(2), -3.0, 3.0);
        assert!((outside.x - 3.0).abs() <= 2.0 * TOLERANCE, "{}", outside.x);
        assert!(
            outside.warnings.iter().any(|w| w.contains("bound")),
            "{:?}",
            outside.warnings
        );
    }

    #[test]
    fn flat_objective_is_warned_about() {
        let flat = find(|x| 1.0 + 1e-6 * x.sin(), -3.0, 3.0);
        assert!(flat.warnings.iter().any(|w| w.contains("flat")));
        let saturated = find(|x| if x > 0.0 { 0.5 } else { 0.5 + x * x }, -3.0, 3.0);
        assert!(saturated.warnings.iter().any(|w| w.contains("flat")));
    }
}
