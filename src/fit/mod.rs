//! The fit (docs/METHOD.md §4.2, §4.6): the simulated alloying curve α_sim(t; D) from a spread
//! table A(τ) imaged once on a √τ grid (or, in exact mode, a simulation per D), the search over
//! log10 D (coarse scan, then Brent), and the uncertainty from the Fisher information.

pub mod brent;
pub mod pchip;
pub mod start_check;
pub mod start_level;
pub mod uncertainty;

use std::collections::HashMap;

use anyhow::{Context, Result, ensure};
use serde::{Deserialize, Serialize};

use crate::analysis::{Quantification, SimulationStart, Simulator};
use crate::backend::Backend;
use crate::diffusion::{Trajectory, tau_nm2};
use crate::experiment::{Correction, FitMode};
use crate::imaging::alloying_degree;
use crate::progress::Progress;
use crate::volume::Volume;
use brent::minimize;
use pchip::Pchip;
use uncertainty::{PointCovariance, standard_deviation};

/// Table knots, uniform in √τ from 0 to saturation: 33 keep the interpolation error in α at 9e-4
/// (measured by tests/fit.rs on NC1; 25 gave 1.8e-3), under a measured curve's noise.
pub const TABLE_POINTS_DEFAULT: usize = 33;
/// The experiment's times after 0 at which a table's correction images its start mask. Four of
/// nine put each mask's D within 0.1% of where all nine put it on NC1, NR1 and NR4; three were up
/// to 0.2% off on NR1, and three uniform in √τ missed an early dip of its correction, up to 0.8% of
/// D (docs/PERFORMANCE.md, "Four knots per correction").
pub const CORRECTION_KNOTS: usize = 4;
/// The table ends where the composition's spread has fallen to this fraction of its start.
const SATURATION_STD_RATIO: f64 = 1e-3;
/// An initial composition with a smaller spread has nothing measurable to alloy.
const MIN_INITIAL_STD: f64 = 1e-4;
/// Coarse-scan points over the log10 D bounds (0.25 decade apart for the default 5 decades).
const SCAN_POINTS: usize = 21;
/// Brent stops when log10 D is known to this.
pub const LOG10_D_TOLERANCE: f64 = 1e-4;
/// Relative step in D of the central differences behind the sensitivities J_k.
const JACOBIAN_RELATIVE_STEP: f64 = 1e-2;

/// Simulated spreads at the experiment's times for a D.
trait SpreadModel {
    fn spreads(&mut self, d_m2s: f64) -> Result<Vec<f64>>;
    fn chain_runs(&self) -> usize;
    fn diffusion_steps(&self) -> u64;
}

/// A(τ): one trajectory imaged on a √τ grid, interpolated with PCHIP.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SpreadTable {
    pub sqrt_tau_nm: Vec<f64>,
    pub spreads: Vec<f64>,
    pub tau_max_nm2: f64,
    /// Chain runs and diffusion steps that made this table: for a corrected one, its correction's
    /// (the base table's were counted where it was built).
    pub chain_runs: usize,
    pub diffusion_steps: u64,
    /// Where the table was imaged for another start mask: the difference to this one's spreads.
    #[serde(default)]
    pub correction: Option<TableCorrection>,
    #[serde(skip)]
    interpolant: Option<Pchip>,
    #[serde(skip)]
    times_s: Vec<f64>,
}

/// What makes a table imaged for one start mask another mask's (`fit::start_level`): that mask's
/// simulated spreads less the table's, at τ = 0 and at [`CORRECTION_KNOTS`] of the experiment's
/// times for one D, interpolated in √τ (PCHIP, flat beyond the last). The difference between two
/// masks a surface layer apart is small and smooth in τ, so a few knots carry it where a table
/// needs [`TABLE_POINTS_DEFAULT`]; at the knots the corrected table gives the imaged spreads
/// exactly, and between them the base table's shape.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableCorrection {
    /// The D whose τ at the correction's times were imaged.
    pub d_m2s: f64,
    pub sqrt_tau_nm: Vec<f64>,
    /// The start mask's spread less the base table's at each knot.
    pub differences: Vec<f64>,
    #[serde(skip)]
    interpolant: Option<Pchip>,
}

impl SpreadTable {
    /// Images the simulator's start state on `points` taus up to saturation, one progress step per
    /// tau; `spread_initial` is the S(0) quantification imaged from the same start.
    pub fn build(
        backend: &Backend,
        simulator: &mut Simulator,
        spread_initial: f64,
        beta: f64,
        points: usize,
        progress: &mut dyn Progress,
    ) -> Result<SpreadTable> {
        ensure!(points >= 4, "the tau table needs at least 4 points");
        let start = &simulator.start;
        progress.line("finding the tau at which diffusion saturates");
        let (tau_max_nm2, probe_steps) = saturation_tau(backend, start, beta)?;
        progress.line(&format!(
            "imaging {points} taus up to {tau_max_nm2:.3e} nm² (uniform in sqrt(tau))"
        ));
        let mut trajectory = Trajectory::new(backend, &start.composition, &start.mask, beta)?;
        let sqrt_tau_nm: Vec<f64> = (0..points)
            .map(|n| tau_max_nm2.sqrt() * n as f64 / (points - 1) as f64)
            .collect();
        let mut spreads = Vec::with_capacity(points);
        let mut chain_runs = 0;
        for (n, &x) in sqrt_tau_nm.iter().enumerate() {
            trajectory.advance_to(x * x)?;
            let (spread, imaged) = simulated_spread(simulator, spread_initial, &trajectory)?;
            spreads.push(spread);
            chain_runs += usize::from(imaged);
            progress.step("tau table", n + 1, points)?;
        }
        Ok(SpreadTable {
            interpolant: Some(Pchip::new(sqrt_tau_nm.clone(), spreads.clone())?),
            sqrt_tau_nm,
            spreads,
            tau_max_nm2,
            chain_runs,
            diffusion_steps: probe_steps + trajectory.full_steps_done(),
            correction: None,
            times_s: Vec::new(),
        })
    }

    /// This table, imaged for another start mask, made the simulator's: the simulator's spreads
    /// imaged at `correction_times` of `q` (its quantification) for `d_m2s` (τ = 0 is its
    /// simulated S(0), no run), less this table's there, interpolated between them
    /// ([`TableCorrection`]). Any correction this table had is replaced.
    pub fn corrected_for(
        &self,
        backend: &Backend,
        simulator: &mut Simulator,
        q: &Quantification,
        beta: f64,
        d_m2s: f64,
        progress: &mut dyn Progress,
    ) -> Result<SpreadTable> {
        let times_s = correction_times(&q.times_s);
        let spread_initial = q.simulated_spread_initial;
        let mut sqrt_tau_nm = Vec::with_capacity(times_s.len());
        let mut differences = Vec::with_capacity(times_s.len());
        let mut chain_runs = 0;
        let diffusion_steps = diffuse_through_times(
            backend,
            simulator,
            &times_s,
            beta,
            d_m2s,
            |simulator, state, n| {
                let (spread, imaged) = simulated_spread(simulator, spread_initial, state)?;
                sqrt_tau_nm.push(state.tau_nm2().sqrt());
                differences.push(spread - self.base_spread_at(state.tau_nm2()));
                chain_runs += usize::from(imaged);
                progress.step("table correction", n + 1, times_s.len())?;
                Ok(())
            },
        )?;
        let interpolant = Pchip::new(sqrt_tau_nm.clone(), differences.clone())
            .context("the experiment's times must increase to correct a table at them")?;
        Ok(SpreadTable {
            chain_runs,
            diffusion_steps,
            correction: Some(TableCorrection {
                d_m2s,
                sqrt_tau_nm,
                differences,
                interpolant: Some(interpolant),
            }),
            ..self.clone()
        })
    }

    /// The interpolated spread at τ (the saturated value beyond the table), corrected where the
    /// table was imaged for another start mask.
    pub fn spread_at(&self, tau_nm2: f64) -> f64 {
        let correction = self.correction.as_ref().map_or(0.0, |correction| {
            correction
                .interpolant
                .as_ref()
                .expect("corrections made in this run have an interpolant")
                .value(tau_nm2.max(0.0).sqrt())
        });
        self.base_spread_at(tau_nm2) + correction
    }

    /// The spread at τ of the table's own knots.
    fn base_spread_at(&self, tau_nm2: f64) -> f64 {
        self.interpolant
            .as_ref()
            .expect("built tables have an interpolant")
            .value(tau_nm2.max(0.0).sqrt())
    }
}

impl SpreadModel for SpreadTable {
    fn spreads(&mut self, d_m2s: f64) -> Result<Vec<f64>> {
        Ok(self
            .times_s
            .iter()
            .map(|&t| self.spread_at(tau_nm2(d_m2s, t)))
            .collect())
    }
    fn chain_runs(&self) -> usize {
        self.chain_runs
    }
    fn diffusion_steps(&self) -> u64 {
        self.diffusion_steps
    }
}

/// The times at which a table's correction images its start mask: 0 and [`CORRECTION_KNOTS`] of
/// `times_s`'s later times, spread evenly over their order with the first and the last among them
/// (all of `times_s` where it has no more).
fn correction_times(times_s: &[f64]) -> Vec<f64> {
    let later: Vec<f64> = times_s.iter().copied().filter(|&t| t > 0.0).collect();
    if later.len() <= CORRECTION_KNOTS {
        return times_s.to_vec();
    }
    let last = (later.len() - 1) as f64;
    std::iter::once(0.0)
        .chain(
            (0..CORRECTION_KNOTS)
                .map(|j| later[(last * j as f64 / (CORRECTION_KNOTS - 1) as f64).round() as usize]),
        )
        .collect()
}

/// The simulated spread of `trajectory`'s snapshot, and whether the chain ran for it: at τ = 0 it
/// is `spread_initial`, the S(0) that quantification already imaged from the same start, chain and
/// noise.
fn simulated_spread(
    simulator: &mut Simulator,
    spread_initial: f64,
    trajectory: &Trajectory,
) -> Result<(f64, bool)> {
    if trajectory.tau_nm2() == 0.0 {
        return Ok((spread_initial, false));
    }
    let imaged = simulator.chain.image(trajectory, simulator.noise, false)?;
    Ok((imaged.spread(), true))
}

/// The τ at which the composition's spread inside the mask has fallen to [`SATURATION_STD_RATIO`]
/// of its start (diffusion only, no imaging), and the steps it took.
fn saturation_tau(backend: &Backend, start: &SimulationStart, beta: f64) -> Result<(f64, u64)> {
    let mut trajectory = Trajectory::new(backend, &start.composition, &start.mask, beta)?;
    let std0 = trajectory.snapshot_moments()?.std();
    ensure!(
        std0 > MIN_INITIAL_STD,
        "the initial composition is uniform (std {std0:.2e} inside the mask): there is nothing to alloy"
    );
    // The f32 field cannot resolve a spread much below 1e-6; stop there at the latest.
    let saturated = (SATURATION_STD_RATIO * std0).max(1e-6);
    let h = start.mask.voxel_nm();
    let mut tau = 10.0 * h * h;
    loop {
        trajectory.advance_to(tau)?;
        if trajectory.snapshot_moments()?.std() <= saturated {
            return Ok((tau, trajectory.full_steps_done()));
        }
        tau *= 1.25;
    }
}

/// A simulation from the start for every D asked for, cached by D.
struct ExactModel<'p, 'a> {
    backend: &'a Backend,
    simulator: &'p mut Simulator<'a>,
    times_s: &'p [f64],
    spread_initial: f64,
    progress: &'p mut dyn Progress,
    beta: f64,
    cache: HashMap<u64, Vec<f64>>,
    chain_runs: usize,
    diffusion_steps: u64,
}

impl SpreadModel for ExactModel<'_, '_> {
    fn spreads(&mut self, d_m2s: f64) -> Result<Vec<f64>> {
        if let Some(hit) = self.cache.get(&d_m2s.to_bits()) {
            return Ok(hit.clone());
        }
        let mut spreads = Vec::new();
        let chain_runs = &mut self.chain_runs;
        let spread_initial = self.spread_initial;
        self.diffusion_steps += diffuse_through_times(
            self.backend,
            self.simulator,
            self.times_s,
            self.beta,
            d_m2s,
            |simulator, state, _| {
                let (spread, imaged) = simulated_spread(simulator, spread_initial, state)?;
                spreads.push(spread);
                *chain_runs += usize::from(imaged);
                Ok(())
            },
        )?;
        self.cache.insert(d_m2s.to_bits(), spreads.clone());
        self.progress
            .step("exact-mode simulations", self.cache.len(), 0)?;
        Ok(spreads)
    }
    fn chain_runs(&self) -> usize {
        self.chain_runs
    }
    fn diffusion_steps(&self) -> u64 {
        self.diffusion_steps
    }
}

/// What the fit found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FitOutcome {
    pub d_m2s: f64,
    /// SD(D) with the error the measured points share through S(0) (see [`uncertainty`]).
    #[serde(deserialize_with = "crate::io::nan_for_null")]
    pub sd_m2s: f64,
    /// SD(D) as if the points' errors were independent, σ/√(Σ J_k²): docs/METHOD.md §4.6's formula,
    /// which the shared error makes too small.
    #[serde(deserialize_with = "crate::io::nan_for_null")]
    pub sd_independent_m2s: f64,
    pub log10_d: f64,
    pub mse: f64,
    pub times_s: Vec<f64>,
    pub alpha_measured: Vec<f64>,
    pub alpha_fit: Vec<f64>,
    /// α_exp − α_sim at each t > 0.
    pub residuals: Vec<f64>,
    /// ∂α_sim/∂D at each t > 0, per m²/s.
    pub sensitivities: Vec<f64>,
    /// α_sim at D = 1e-19 and 1e-18 m²/s, as the paper's figures show.
    pub reference_curves: Vec<(f64, Vec<f64>)>,
    /// (log10 D, MSE) of every objective evaluation, in log10 D order.
    pub landscape: Vec<(f64, f64)>,
    pub warnings: Vec<String>,
    pub mode: FitMode,
    pub correction: Correction,
    pub chain_runs: usize,
    pub diffusion_steps: u64,
    pub table: Option<SpreadTable>,
    /// The best fit and the reference curves sampled densely in t, for plots (table mode only:
    /// there every sample is an interpolation).
    #[serde(default)]
    pub sampled_curves: Option<SampledCurves>,
}

/// Simulated α curves sampled at [`SAMPLED_CURVE_POINTS`] times from 0 to the last measured time.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SampledCurves {
    pub times_s: Vec<f64>,
    pub fit: Vec<f64>,
    /// (D in m²/s, α at each time).
    pub references: Vec<(f64, Vec<f64>)>,
}

/// Samples of a plotted curve: smooth at a figure's width.
const SAMPLED_CURVE_POINTS: usize = 241;

impl SampledCurves {
    fn times(measured_s: &[f64]) -> Vec<f64> {
        let last = measured_s.last().copied().unwrap_or(0.0);
        (0..SAMPLED_CURVE_POINTS)
            .map(|n| last * n as f64 / (SAMPLED_CURVE_POINTS - 1) as f64)
            .collect()
    }

    fn alpha(
        table: &SpreadTable,
        measured_s: &[f64],
        d_m2s: f64,
        spread_initial: f64,
        spread_alloyed: f64,
    ) -> Vec<f64> {
        let spreads: Vec<f64> = Self::times(measured_s)
            .iter()
            .map(|&t| table.spread_at(tau_nm2(d_m2s, t)))
            .collect();
        simulated_alpha(&spreads, spread_initial, spread_alloyed)
    }
}

/// Simulated α at each time from simulated spreads (docs/METHOD.md §4.4): normalised by the
/// simulated S(0) and the simulated fully alloyed particle's S_100, whichever correction the
/// measured curve uses. So an uncorrected measured curve, which reaches 1 at its last point by
/// construction, pulls D up, as the paper found (3.3 vs 2.7 for NC1).
fn simulated_alpha(spreads: &[f64], spread_initial: f64, spread_alloyed: f64) -> Vec<f64> {
    spreads
        .iter()
        .map(|&s| alloying_degree(s, spread_initial, spread_alloyed))
        .collect()
}

/// Fits D to the measured curve of `q` with `simulator`, reporting the simulations to `progress`.
pub fn fit<'a>(
    backend: &'a Backend,
    q: &Quantification,
    simulator: &mut Simulator<'a>,
    settings: &crate::experiment::FitSection,
    table_points: usize,
    progress: &mut dyn Progress,
) -> Result<FitOutcome> {
    match settings.mode {
        FitMode::Table => {
            let table = SpreadTable::build(
                backend,
                simulator,
                q.simulated_spread_initial,
                settings.beta,
                table_points,
                progress,
            )?;
            fit_to_table(q, table, settings)
        }
        FitMode::Exact => {
            let mut exact = ExactModel {
                backend,
                simulator,
                times_s: &q.times_s,
                spread_initial: q.simulated_spread_initial,
                progress,
                beta: settings.beta,
                cache: HashMap::new(),
                chain_runs: 0,
                diffusion_steps: 0,
            };
            fit_model(q, &mut exact, settings)
        }
    }
}

/// Fits D to the measured curve of `q` on a spread table built for it (table mode), keeping the
/// table and the curves sampled from it in the outcome.
pub fn fit_to_table(
    q: &Quantification,
    mut table: SpreadTable,
    settings: &crate::experiment::FitSection,
) -> Result<FitOutcome> {
    table.times_s = q.times_s.clone();
    let mut outcome = fit_model(q, &mut table, settings)?;
    let curve = |d: f64| {
        SampledCurves::alpha(
            &table,
            &q.times_s,
            d,
            q.simulated_spread_initial,
            q.simulated_spread_alloyed,
        )
    };
    outcome.sampled_curves = Some(SampledCurves {
        times_s: SampledCurves::times(&q.times_s),
        fit: curve(outcome.d_m2s),
        references: outcome
            .reference_curves
            .iter()
            .map(|(d, _)| (*d, curve(*d)))
            .collect(),
    });
    outcome.table = Some(table);
    Ok(outcome)
}

/// The search over log10 D and the uncertainty, on any model of the spreads.
fn fit_model(
    q: &Quantification,
    model: &mut dyn SpreadModel,
    settings: &crate::experiment::FitSection,
) -> Result<FitOutcome> {
    let times_s = &q.times_s;
    let spread_initial = q.simulated_spread_initial;
    let spread_alloyed = q.simulated_spread_alloyed;
    let correction = settings.correction;
    // t = 0 is α = 0 by definition on both sides: it normalises the curves and is not fitted.
    let fitted_points: Vec<usize> = (0..times_s.len()).filter(|&k| times_s[k] > 0.0).collect();
    let alpha_of = |d: f64, model: &mut dyn SpreadModel| -> Result<Vec<f64>> {
        Ok(simulated_alpha(
            &model.spreads(d)?,
            spread_initial,
            spread_alloyed,
        ))
    };
    let mut objective = |log10_d: f64| -> Result<f64> {
        let alpha = alpha_of(10f64.powf(log10_d), model)?;
        Ok(fitted_points
            .iter()
            .map(|&k| (q.alpha[k] - alpha[k]).powi(2))
            .sum::<f64>()
            / fitted_points.len() as f64)
    };
    let minimum = minimize(
        &mut objective,
        settings.d_min_m2s.log10(),
        settings.d_max_m2s.log10(),
        SCAN_POINTS,
        LOG10_D_TOLERANCE,
    )?;
    let d_m2s = 10f64.powf(minimum.x);
    let alpha_fit = alpha_of(d_m2s, model)?;
    let up = alpha_of(d_m2s * (1.0 + JACOBIAN_RELATIVE_STEP), model)?;
    let down = alpha_of(d_m2s * (1.0 - JACOBIAN_RELATIVE_STEP), model)?;
    let sensitivities: Vec<f64> = fitted_points
        .iter()
        .map(|&k| (up[k] - down[k]) / (2.0 * JACOBIAN_RELATIVE_STEP * d_m2s))
        .collect();
    let residuals: Vec<f64> = fitted_points
        .iter()
        .map(|&k| q.alpha[k] - alpha_fit[k])
        .collect();
    let sd_independent_m2s = standard_deviation(
        &residuals,
        &sensitivities,
        &PointCovariance::independent(fitted_points.len()),
    )?;
    // A curve read from a file was not made from spreads here: its points count as independent.
    let sd_m2s = match q.measured {
        Some(_) => standard_deviation(
            &residuals,
            &sensitivities,
            &PointCovariance::of_spread_ratios(&q.alpha, &fitted_points, correction),
        )?,
        None => sd_independent_m2s,
    };
    let reference_curves = [1e-19, 1e-18]
        .into_iter()
        .map(|d| Ok((d, alpha_of(d, model)?)))
        .collect::<Result<Vec<_>>>()?;
    let mut landscape = minimum.evaluations.clone();
    landscape.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(FitOutcome {
        d_m2s,
        sd_m2s,
        sd_independent_m2s,
        log10_d: minimum.x,
        mse: minimum.value,
        alpha_measured: q.alpha.clone(),
        times_s: times_s.clone(),
        alpha_fit,
        residuals,
        sensitivities,
        reference_curves,
        landscape,
        warnings: minimum.warnings,
        mode: settings.mode,
        correction,
        chain_runs: model.chain_runs(),
        diffusion_steps: model.diffusion_steps(),
        table: None,
        sampled_curves: None,
    })
}

/// Slice `k` of the simulated reconstruction at each of `times_s` for `d_m2s` (for showing next to
/// the measured ones), in volumes that are zero on every other slice; one progress step per time.
pub fn simulated_slices(
    backend: &Backend,
    simulator: &mut Simulator,
    times_s: &[f64],
    beta: f64,
    d_m2s: f64,
    k: usize,
    progress: &mut dyn Progress,
) -> Result<Vec<Volume>> {
    let mut volumes = Vec::with_capacity(times_s.len());
    diffuse_through_times(
        backend,
        simulator,
        times_s,
        beta,
        d_m2s,
        |simulator, state, n| {
            volumes.push(
                simulator
                    .chain
                    .reconstruct_slices(state, simulator.noise, k..k + 1)?,
            );
            progress.step("simulated slices", n + 1, times_s.len())?;
            Ok(())
        },
    )?;
    Ok(volumes)
}

/// Diffuses the simulator's start state with `d_m2s` to each of `times_s` in turn, handing each
/// state and its time index to `at_time`; returns the full diffusion steps taken.
fn diffuse_through_times<'a>(
    backend: &Backend,
    simulator: &mut Simulator<'a>,
    times_s: &[f64],
    beta: f64,
    d_m2s: f64,
    mut at_time: impl FnMut(&mut Simulator<'a>, &Trajectory, usize) -> Result<()>,
) -> Result<u64> {
    let start = &simulator.start;
    let mut trajectory = Trajectory::new(backend, &start.composition, &start.mask, beta)?;
    for (n, &t) in times_s.iter().enumerate() {
        trajectory.advance_to(tau_nm2(d_m2s, t))?;
        at_time(simulator, &trajectory, n)?;
    }
    Ok(trajectory.full_steps_done())
}
