//! The fitted start mask (`data.start_mask = "fitted"`, the default): the surface level of the
//! smoothed t = 0 segmentation is fitted along with D, and its uncertainty goes into the SD.
//!
//! The mask decides where the spreads are measured and where the simulated particle ends, and D
//! follows it steeply: a level 10% above the half-height threshold (a sixth of a voxel of surface)
//! moves D by +10% on NC1 at 2 nm. The curve itself says which level is right: a mask that is too
//! large or too small leaves the measured and the simulated fully alloyed spreads apart, and the
//! best-fit MSE grows 10–40-fold within ±5% of the level (docs/PERFORMANCE.md, "The fitted start
//! level"). So the level is a second parameter, found by minimising the profile MSE(level) =
//! min over D of MSE(D, level), each level with its own mask, quantification and table.
//!
//! SD: for a least-squares fit linear near its optimum, the marginal variance of D is its variance
//! at the fitted level plus (∂D̂/∂level)² times the level's variance, and the level's variance comes
//! from the profile's curvature: Var(level) = 2σ²/SSE'', with σ² = SSE/(K − 2) for K points and
//! two parameters. The variance at the level is the fit's own, scaled by (K − 1)/(K − 2) for the
//! same reason.
//!
//! The smoothing width (`data.start_smoothing_voxels`) is the other half of the start mask's shape,
//! and one the curve cannot fix: it rounds the particle's edges, which moves D and barely the MSE.
//! So two levels are fitted at the width ± [`START_SMOOTHING_STEP_VOXELS`] each ([`WidthVertex`]),
//! and half the spread of the three best fits' D enters the SD as the width's share
//! ([`smoothing_share`]). The fit reported stays the one at the experiment's width.
//!
//! Cost: only the first mask (level 1 at the experiment's width) is prepared and fitted in full,
//! with its dose calibration and its own table. Every other mask takes over its noise and dose and
//! fits on its table corrected at a few of its times (`SpreadTable::corrected_for`): 6 chain runs
//! (its S(0), S₁₀₀ and [`super::CORRECTION_KNOTS`] times) against 38, so that the whole search (8–9
//! masks on the particles measured) costs about two fits. In exact mode every mask is fitted in
//! full, on the first mask's dose.

use std::time::Instant;

use anyhow::{Context, Result, ensure};
use serde::{Deserialize, Serialize};

use super::{FitOutcome, SpreadTable, fit, fit_to_table};
use crate::analysis::{
    Quantification, Quantified, SegmentedReconstructions, Simulator, TakenOver, prepare_segmented,
    read_and_segment,
};
use crate::backend::Backend;
use crate::experiment::{
    LoadedExperiment, START_LEVEL_MAX, START_LEVEL_MIN, START_SMOOTHING_STEP_VOXELS, StartMask,
};
use crate::imaging::start_state::MatchCorrection;
use crate::progress::Progress;
use crate::start_mask::StartShape;

/// The first levels tried are 1 and 1 ± this.
const FIRST_STEP: f64 = 0.05;
/// The search stops when a parabolic step would move the level by less than this. A level step of
/// 0.005 moves about 1 in 1000 of the mask's voxels and D by 0.35% (NC1 at 2 nm) to 0.8% (NR1 at
/// 0.5 nm). A finer stop is no better: levels 0.002 apart differ by a few hundred voxels, the MSE
/// between them is noise, and the curvature behind the level's SD came out twice as sharp (NR1
/// at 0.5 nm: SD of D 0.26%, the truth 2.9 SD away; docs/PERFORMANCE.md, "The fitted start level").
const LEVEL_TOLERANCE: f64 = 0.005;
/// Each level costs a quantification and a table's correction; the search gives up after this many.
const MAX_LEVELS: usize = 9;
/// The widths either side are tried at the experiment's width's best level ± this. Their own best
/// levels lay within 0.01 of it on NC1 at 2 nm (0.55 and 0.85 voxel, seeds 101–104), so the pair
/// brackets them.
const WIDTH_LEVEL_STEP: f64 = 0.01;
/// D and the level are fitted: with fewer points no residual is left to measure the level's error.
const MIN_POINTS: usize = 3;

/// One start mask tried.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LevelEvaluation {
    pub level: f64,
    pub smoothing_voxels: f64,
    pub d_m2s: f64,
    pub mse: f64,
}

/// The fitted start mask (its surface level and smoothing width) and what it does to the SD.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StartLevel {
    /// The vertex of the profile MSE over the levels tried; `d_m2s` of the fit is D there, and its
    /// curves and residuals are those of the level tried with the lowest MSE.
    pub level: f64,
    #[serde(deserialize_with = "crate::io::nan_for_null")]
    pub sd_level: f64,
    /// ∂D̂/∂level from the levels around the optimum, in m²/s per unit level.
    #[serde(deserialize_with = "crate::io::nan_for_null")]
    pub d_slope_m2s: f64,
    /// The smoothing width of the fit (`data.start_smoothing_voxels`).
    pub smoothing_voxels: f64,
    /// The width's share of the SD of D ([`smoothing_share`]).
    #[serde(deserialize_with = "crate::io::nan_for_null")]
    pub sd_from_smoothing_m2s: f64,
    /// SD(D) at the fitted level, as if the level were known; the fit's `sd_m2s` adds the level's
    /// and the width's shares.
    #[serde(deserialize_with = "crate::io::nan_for_null")]
    pub sd_at_level_m2s: f64,
    /// The best level and D at the widths either side (empty where they were not fitted).
    #[serde(default)]
    pub width_vertices: Vec<WidthBest>,
    /// Every start mask tried: by width, each in the order tried.
    pub evaluations: Vec<LevelEvaluation>,
}

/// A prepared and fitted experiment, and the seconds spent on each.
pub struct FitRun<'a> {
    /// The reconstructions read (empty for a measured curve).
    pub segmented: SegmentedReconstructions,
    /// The quantification and the simulator of the reported fit's start mask.
    pub quantified: Quantified,
    pub simulator: Simulator<'a>,
    pub outcome: FitOutcome,
    /// The level search, where the start mask rule is the fitted one.
    pub start_level: Option<StartLevel>,
    pub prepare_s: f64,
    pub fit_s: f64,
}

/// Prepares and fits `loaded`, searching the start level where its rule is the fitted one and its
/// mask comes from the reconstructions.
pub fn prepare_and_fit<'a>(
    backend: &'a Backend,
    loaded: &LoadedExperiment,
    table_points: usize,
    progress: &mut dyn Progress,
) -> Result<FitRun<'a>> {
    let data = &loaded.experiment.data;
    let started = Instant::now();
    let segmented = read_and_segment(backend, loaded, progress)
        .with_context(|| format!("{}", loaded.path.display()))?;
    let shape = StartShape::of(data);
    if shape.rule != StartMask::Fitted || !data.start_mask_applies() {
        let (quantified, mut simulator) =
            prepare_segmented(backend, loaded, &segmented, &shape, None, progress)
                .with_context(|| format!("{}", loaded.path.display()))?;
        let prepare_s = started.elapsed().as_secs_f64();
        progress.line(&format!("fitting in {:?} mode", loaded.experiment.fit.mode));
        let fit_started = Instant::now();
        let outcome = fit(
            backend,
            &quantified.quantification,
            &mut simulator,
            &loaded.experiment.fit,
            table_points,
            progress,
        )?;
        return Ok(FitRun {
            segmented,
            quantified,
            simulator,
            outcome,
            start_level: None,
            prepare_s,
            fit_s: fit_started.elapsed().as_secs_f64(),
        });
    }
    let mut search = ShapeSearch {
        backend,
        loaded,
        segmented: &segmented,
        shape,
        table_points,
        first: None,
        best: None,
        prepare_s: started.elapsed().as_secs_f64(),
        fit_s: 0.0,
    };
    let width = shape.smoothing_voxels;
    let tried = search_levels(1.0, FIRST_STEP, |level| {
        search.evaluate(level, width, progress)
    })?;
    let mut others = Vec::new();
    if search.has_inner_best(&tried)
        && let Some(curvature) = profile_curvature(&tried)
    {
        let Vertex { level, .. } = vertex(&tried);
        for other in [
            width - START_SMOOTHING_STEP_VOXELS,
            width + START_SMOOTHING_STEP_VOXELS,
        ] {
            let pair = [level - WIDTH_LEVEL_STEP, level + WIDTH_LEVEL_STEP]
                .map(|level| level.clamp(START_LEVEL_MIN, START_LEVEL_MAX));
            let evaluations = pair
                .into_iter()
                .map(|level| search.evaluate(level, other, progress))
                .collect::<Result<Vec<_>>>()?;
            others.push(WidthVertex::of(evaluations, curvature));
        }
    }
    let (quantified, simulator, outcome, start_level, prepare_s, fit_s) =
        search.finish(tried, others, progress)?;
    Ok(FitRun {
        segmented,
        quantified,
        simulator,
        outcome,
        start_level: Some(start_level),
        prepare_s,
        fit_s,
    })
}

/// Tries levels `center` and `center` ± `step`, then those [`next_level`] asks for until it stops
/// or [`MAX_LEVELS`] are tried.
fn search_levels(
    center: f64,
    step: f64,
    mut try_level: impl FnMut(f64) -> Result<LevelEvaluation>,
) -> Result<Vec<LevelEvaluation>> {
    let mut tried = Vec::with_capacity(MAX_LEVELS);
    // The center first: the first mask's table serves the others.
    for level in [center, center - step, center + step] {
        tried.push(try_level(level.clamp(START_LEVEL_MIN, START_LEVEL_MAX))?);
    }
    while tried.len() < MAX_LEVELS {
        let Some(next) = next_level(&tried, step) else {
            break;
        };
        tried.push(try_level(next)?);
    }
    Ok(tried)
}

struct ShapeSearch<'a, 'l> {
    backend: &'a Backend,
    loaded: &'l LoadedExperiment,
    segmented: &'l SegmentedReconstructions,
    /// The experiment's start mask shape; each evaluation cuts it at another level and width.
    shape: StartShape,
    table_points: usize,
    /// The first start mask tried: its noise and dose serve every other, and so does its table,
    /// corrected, in table mode.
    first: Option<FirstMask>,
    /// The best fit at the experiment's smoothing width, the one reported.
    best: Option<(Quantified, Simulator<'a>, FitOutcome)>,
    prepare_s: f64,
    fit_s: f64,
}

/// The first start mask's quantification and, in table mode, its table and D.
struct FirstMask {
    quantification: Quantification,
    table: Option<(SpreadTable, f64)>,
    match_correction: Option<MatchCorrection>,
}

/// What the level search leaves: the reported fit's quantification, simulator and outcome, the
/// search, and the seconds spent preparing and fitting.
type SearchResult<'a> = (Quantified, Simulator<'a>, FitOutcome, StartLevel, f64, f64);

impl<'a> ShapeSearch<'a, '_> {
    /// Prepares and fits with the start mask smoothed by `width` voxels and cut at `level`, keeping
    /// the prepared experiment and fit if `width` is the experiment's and its MSE the lowest yet.
    fn evaluate(
        &mut self,
        level: f64,
        width: f64,
        progress: &mut dyn Progress,
    ) -> Result<LevelEvaluation> {
        let shape = self.shape.at(width, level);
        let described = shape.describe();
        progress.line(&format!("{described}: preparing and fitting"));
        let started = Instant::now();
        let earlier = self.first.as_ref().map(|first| TakenOver {
            quantification: &first.quantification,
            match_correction: first.match_correction.as_ref(),
        });
        let (quantified, mut simulator) = prepare_segmented(
            self.backend,
            self.loaded,
            self.segmented,
            &shape,
            earlier,
            progress,
        )
        .with_context(|| format!("{} with the {described}", self.loaded.path.display()))?;
        let fitted = Instant::now();
        self.prepare_s += (fitted - started).as_secs_f64();
        let settings = &self.loaded.experiment.fit;
        let q = &quantified.quantification;
        let outcome = match self.first.as_ref().and_then(|first| first.table.as_ref()) {
            Some((table, d_m2s)) => {
                progress.line(&format!(
                    "{described}: correcting the first mask's table, imaged at D = {d_m2s:.4e} m²/s"
                ));
                let corrected = table.corrected_for(
                    self.backend,
                    &mut simulator,
                    q,
                    settings.beta,
                    *d_m2s,
                    progress,
                )?;
                fit_to_table(q, corrected, settings)?
            }
            None => fit(
                self.backend,
                q,
                &mut simulator,
                settings,
                self.table_points,
                progress,
            )?,
        };
        self.fit_s += fitted.elapsed().as_secs_f64();
        if self.first.is_none() {
            self.first = Some(FirstMask {
                quantification: q.clone(),
                table: outcome.table.clone().map(|table| (table, outcome.d_m2s)),
                match_correction: simulator.start.match_correction.clone(),
            });
        }
        progress.line(&format!(
            "{described}: D = {:.4e} m²/s, MSE {:.3e}",
            outcome.d_m2s, outcome.mse
        ));
        let evaluation = LevelEvaluation {
            level,
            smoothing_voxels: width,
            d_m2s: outcome.d_m2s,
            mse: outcome.mse,
        };
        let reported = width == self.shape.smoothing_voxels;
        if reported
            && self
                .best
                .as_ref()
                .is_none_or(|(_, _, best)| outcome.mse < best.mse)
        {
            self.best = Some((quantified, simulator, outcome));
        }
        Ok(evaluation)
    }

    /// Whether the lowest MSE of `tried` lies between two other levels, so that the level's error
    /// can be measured and the widths either side are worth fitting; a fit whose points leave no
    /// residual measures neither.
    fn has_inner_best(&self, tried: &[LevelEvaluation]) -> bool {
        let points = self
            .best
            .as_ref()
            .map_or(0, |(_, _, outcome)| outcome.residuals.len());
        bracket(tried).is_some() && points >= MIN_POINTS
    }

    fn finish(
        self,
        tried: Vec<LevelEvaluation>,
        others: Vec<WidthVertex>,
        progress: &mut dyn Progress,
    ) -> Result<SearchResult<'a>> {
        let best = lowest(&tried);
        let (quantified, simulator, mut outcome) = self.best.expect("three levels tried");
        ensure!(
            best.mse == outcome.mse,
            "the level search lost its best fit"
        );
        let Vertex { level, d_m2s } = vertex(&tried);
        outcome.d_m2s = d_m2s;
        outcome.log10_d = d_m2s.log10();
        let points = outcome.residuals.len() as f64;
        // The level was fitted too: the residuals have one degree of freedom fewer than the fit at
        // a fixed level counted.
        let residual_left = outcome.residuals.len() >= MIN_POINTS;
        let sd_at_level_m2s = if residual_left {
            outcome.sd_m2s * ((points - 1.0) / (points - 2.0)).sqrt()
        } else {
            outcome.sd_m2s
        };
        let (sd_level, d_slope_m2s, warning) = match (bracket(&tried), residual_left) {
            (_, false) => (
                f64::NAN,
                f64::NAN,
                Some(format!(
                    "{points} points leave no residual to estimate the start mask's error from: the SD is D's at the fitted level"
                )),
            ),
            (None, true) => (
                f64::NAN,
                f64::NAN,
                Some(format!(
                    "the start level's best fit lies at {level}, the end of [{START_LEVEL_MIN}, {START_LEVEL_MAX}]: the t = 0 segmentation does not fit the curve; check data.start_mask and the reconstructions"
                )),
            ),
            (Some([a, b, c]), true) => {
                let sse_curvature =
                    points * second_difference([a.level, b.level, c.level], [a.mse, b.mse, c.mse]);
                let variance = outcome.mse * points / (points - 2.0);
                let sd_level = (2.0 * variance / sse_curvature).sqrt();
                let slope = (c.d_m2s - a.d_m2s) / (c.level - a.level);
                let flat = (!sd_level.is_finite()).then(|| format!(
                    "the MSE is not convex in the start level around {level}: the SD leaves out the start level's error"
                ));
                (sd_level, slope, flat)
            }
        };
        outcome.warnings.extend(warning);
        let level_share = if sd_level.is_finite() {
            d_slope_m2s * sd_level
        } else {
            0.0
        };
        let sd_from_smoothing_m2s = smoothing_share(&tried, &others);
        outcome.sd_m2s = sd_at_level_m2s
            .hypot(level_share)
            .hypot(sd_from_smoothing_m2s);
        progress.line(&format!(
            "start level {level:.4} ± {sd_level:.4}: SD of D {sd_at_level_m2s:.3e} at the level, {:.3e} with it and the smoothing's {sd_from_smoothing_m2s:.3e}",
            outcome.sd_m2s
        ));
        let smoothing_voxels = best.smoothing_voxels;
        let width_vertices = others
            .iter()
            .map(|other| WidthBest {
                smoothing_voxels: other.smoothing_voxels,
                level: other.vertex.level,
                d_m2s: other.vertex.d_m2s,
            })
            .collect();
        let start_level = StartLevel {
            level,
            sd_level,
            d_slope_m2s,
            smoothing_voxels,
            sd_from_smoothing_m2s,
            sd_at_level_m2s,
            width_vertices,
            evaluations: tried
                .into_iter()
                .chain(others.into_iter().flat_map(|other| other.evaluations))
                .collect(),
        };
        Ok((
            quantified,
            simulator,
            outcome,
            start_level,
            self.prepare_s,
            self.fit_s,
        ))
    }
}

/// The smoothing width's share of the SD of D: half the spread of the best fits' D over the
/// experiment's width (`tried`) and the widths [`START_SMOOTHING_STEP_VOXELS`] either side
/// (`others`), each at its own best level; 0 where the others were not fitted.
///
/// The width is the part of the start mask the curve fixes least. On NC1 at 2 nm (dose 10, 20 noise
/// seeds) the best MSE over 0.55, 0.7 and 0.85 voxel differs by a median 1.9-fold, and is lowest at
/// 0.85 on 13 seeds, while D rises from +0.15% to +1.55% off the truth: the smoothing rounds the
/// cube's edges, a shape the curve barely sees and D does. The width's SD from the curvature of
/// three such minima came out anywhere from 0.06 to 0.31 voxel on the first three seeds, too noisy
/// to use (docs/PERFORMANCE.md, "The start mask's smoothing"). So the width counts as known to ± one
/// step, and the D it moves over that band enters the SD as its half-spread.
fn smoothing_share(tried: &[LevelEvaluation], others: &[WidthVertex]) -> f64 {
    if others.is_empty() {
        return 0.0;
    }
    let best_d =
        std::iter::once(vertex(tried).d_m2s).chain(others.iter().map(|other| other.vertex.d_m2s));
    let (low, high) = best_d.fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), d| {
        (low.min(d), high.max(d))
    });
    0.5 * (high - low)
}

/// The best level and its D at a width either side of the experiment's, as the report lists them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WidthBest {
    pub smoothing_voxels: f64,
    pub level: f64,
    pub d_m2s: f64,
}

/// The best fit at a width either side of the experiment's, from two levels: the vertex of the
/// parabola through them that has the curvature of the experiment's width's profile, and D linear
/// in level through them.
///
/// Two levels where a search would take three. A curvature off by a factor f moves the vertex by
/// (f − 1) times its distance from the pair's midpoint, and the pair is centred on the experiment's
/// width's vertex, within 0.01 of the other widths' (NC1 at 2 nm, seeds 101–104). On the bundled
/// example the curvatures at 0.55 and 0.85 voxel were 0.94 and 0.61 times that at 0.7, and the
/// vertices from two levels lay within 0.0002 of those from three (0.9909 against 0.9908, 0.9917
/// against 0.9915); D there moved by −0.15% and −0.01%, against a width's share of 0.65%.
struct WidthVertex {
    smoothing_voxels: f64,
    evaluations: Vec<LevelEvaluation>,
    vertex: Vertex,
}

impl WidthVertex {
    /// The vertex of two `evaluations` at one width, at different levels; `curvature` is the second
    /// derivative of the MSE in level.
    fn of(evaluations: Vec<LevelEvaluation>, curvature: f64) -> WidthVertex {
        let (low, high) = if evaluations[0].level <= evaluations[1].level {
            (&evaluations[0], &evaluations[1])
        } else {
            (&evaluations[1], &evaluations[0])
        };
        let span = high.level - low.level;
        let vertex = if span > 0.0 {
            let level = 0.5 * (low.level + high.level) - (high.mse - low.mse) / (curvature * span);
            // No further out than one span: beyond it the parabola is a guess.
            let level = level.clamp(low.level - span, high.level + span);
            let weight = (level - low.level) / span;
            Vertex {
                level,
                d_m2s: low.d_m2s + weight * (high.d_m2s - low.d_m2s),
            }
        } else {
            let lower = if low.mse <= high.mse { low } else { high };
            Vertex {
                level: lower.level,
                d_m2s: lower.d_m2s,
            }
        };
        WidthVertex {
            smoothing_voxels: low.smoothing_voxels,
            vertex,
            evaluations,
        }
    }
}

/// The second derivative of the MSE in level at the lowest MSE of `tried` and its neighbours; None
/// where that lies at an end or the profile is not convex there.
fn profile_curvature(tried: &[LevelEvaluation]) -> Option<f64> {
    let [a, b, c] = bracket(tried)?;
    let curvature = second_difference([a.level, b.level, c.level], [a.mse, b.mse, c.mse]);
    (curvature > 0.0 && curvature.is_finite()).then_some(curvature)
}

/// The minimum of a level search's profile and D there.
#[derive(Debug, PartialEq)]
struct Vertex {
    level: f64,
    d_m2s: f64,
}

/// The vertex of the parabola through the lowest MSE of `tried` and its neighbours, with D
/// interpolated linearly in level between the two levels either side of it; the lowest level and
/// its D where that lies at an end or the profile is not convex there.
///
/// The search stops once the vertex is within [`LEVEL_TOLERANCE`] of a level tried, and D moves by up
/// to 0.4% over that distance (NC1 at 2 nm), a discreteness of the search and no property of the
/// data, which the SD does not cover. Interpolated, it is gone: over 20 noise seeds of NC1 at 2 nm
/// the truth lay within 2 SD in 18 against 15 with the lowest level's D (docs/PERFORMANCE.md, "The
/// start mask's smoothing"). D is close to linear in level there (within 10% of one slope over
/// ±0.02).
fn vertex(tried: &[LevelEvaluation]) -> Vertex {
    let best = lowest(tried);
    let at_lowest = Vertex {
        level: best.level,
        d_m2s: best.d_m2s,
    };
    let Some([a, b, c]) = bracket(tried) else {
        return at_lowest;
    };
    let Some(level) = parabola_vertex([a.level, b.level, c.level], [a.mse, b.mse, c.mse]) else {
        return at_lowest;
    };
    let level = level.clamp(a.level, c.level);
    let (low, high) = if level <= b.level { (a, b) } else { (b, c) };
    let weight = (level - low.level) / (high.level - low.level);
    Vertex {
        level,
        d_m2s: low.d_m2s + weight * (high.d_m2s - low.d_m2s),
    }
}

/// The evaluation with the lowest MSE.
fn lowest(tried: &[LevelEvaluation]) -> &LevelEvaluation {
    let (sorted, best) = sorted(tried);
    sorted[best]
}

/// The lowest MSE of `tried` with the levels either side of it, in order; None when it lies at an
/// end of the levels tried.
fn bracket(tried: &[LevelEvaluation]) -> Option<[&LevelEvaluation; 3]> {
    let (sorted, best) = sorted(tried);
    (best != 0 && best != sorted.len() - 1)
        .then(|| [sorted[best - 1], sorted[best], sorted[best + 1]])
}

/// The tried levels in order and the index of the lowest MSE.
fn sorted(tried: &[LevelEvaluation]) -> (Vec<&LevelEvaluation>, usize) {
    let mut sorted: Vec<&LevelEvaluation> = tried.iter().collect();
    sorted.sort_by(|a, b| a.level.total_cmp(&b.level));
    let best = (0..sorted.len())
        .min_by(|&i, &j| sorted[i].mse.total_cmp(&sorted[j].mse))
        .expect("three levels tried");
    (sorted, best)
}

/// The next level to try: outward by `step` while the lowest MSE is at an end of the tried levels,
/// then the vertex of the parabola through the lowest and its neighbours; None when that is within
/// [`LEVEL_TOLERANCE`] of a tried level (the lowest at a bound included).
fn next_level(tried: &[LevelEvaluation], step: f64) -> Option<f64> {
    let next = match bracket(tried) {
        Some([a, b, c]) => parabola_vertex([a.level, b.level, c.level], [a.mse, b.mse, c.mse])?,
        None => {
            let (sorted, best) = sorted(tried);
            if best == 0 {
                (sorted[0].level - step).max(START_LEVEL_MIN)
            } else {
                (sorted[best].level + step).min(START_LEVEL_MAX)
            }
        }
    };
    tried
        .iter()
        .all(|t| (t.level - next).abs() > LEVEL_TOLERANCE)
        .then_some(next)
}

/// The vertex of the parabola through three points with x0 < x1 < x2, where it has a minimum.
fn parabola_vertex(x: [f64; 3], y: [f64; 3]) -> Option<f64> {
    let curvature = second_difference(x, y);
    (curvature > 0.0).then(|| {
        let slope_left = (y[1] - y[0]) / (x[1] - x[0]);
        // The derivative at the midpoint of x0 and x1 is slope_left; it falls to 0 at the vertex.
        0.5 * (x[0] + x[1]) - slope_left / curvature
    })
}

/// The second derivative of the parabola through three points with distinct x.
fn second_difference(x: [f64; 3], y: [f64; 3]) -> f64 {
    let slope_left = (y[1] - y[0]) / (x[1] - x[0]);
    let slope_right = (y[2] - y[1]) / (x[2] - x[1]);
    2.0 * (slope_right - slope_left) / (x[2] - x[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parabola_vertex_and_curvature_are_exact_for_a_parabola() {
        let f = |x: f64| 3.0 * (x - 1.013).powi(2) + 0.5;
        let x = [0.95, 1.0, 1.08];
        let y = x.map(f);
        assert!((second_difference(x, y) - 6.0).abs() < 1e-9);
        assert!((parabola_vertex(x, y).unwrap() - 1.013).abs() < 1e-12);
        assert!(parabola_vertex(x, x.map(|v| -f(v))).is_none());
    }

    /// The fit's search on a made-up profile: the levels it tries.
    fn search(mse: impl Fn(f64) -> f64) -> Vec<f64> {
        let tried = search_levels(1.0, FIRST_STEP, |level| {
            Ok(LevelEvaluation {
                level,
                smoothing_voxels: 0.7,
                d_m2s: 1e-19,
                mse: mse(level),
            })
        })
        .unwrap();
        tried.iter().map(|t| t.level).collect()
    }

    #[test]
    fn the_search_stops_within_tolerance_of_a_smooth_minimum() {
        // NR1's profile at 0.5 nm is steeper on the low side, as this smooth one.
        let levels = search(|x| {
            let d = x - 1.034;
            1e-6 + 0.2 * d * d - 0.5 * d * d * d
        });
        let closest = levels
            .iter()
            .map(|&x| (x - 1.034).abs())
            .fold(f64::INFINITY, f64::min);
        assert!(closest < 2.0 * LEVEL_TOLERANCE, "{levels:?}");
        assert!(levels.len() <= 6, "{levels:?}");
    }

    #[test]
    fn the_search_walks_out_to_a_bound_and_stops_there() {
        let levels = search(|x| (1.5 - x).powi(2));
        assert_eq!(levels.last().copied(), Some(START_LEVEL_MAX), "{levels:?}");
        assert!(levels.len() < MAX_LEVELS, "{levels:?}");
        let levels = search(|x| (x - 0.5).powi(2));
        assert_eq!(levels.last().copied(), Some(START_LEVEL_MIN), "{levels:?}");
    }

    /// Three levels of one width around `best_level` on a parabolic MSE, D linear in the level.
    fn levels(width: f64, best_level: f64, d_at_best: f64) -> Vec<LevelEvaluation> {
        [best_level - 0.013, best_level + 0.004, best_level + 0.02]
            .map(|level| LevelEvaluation {
                level,
                smoothing_voxels: width,
                d_m2s: d_at_best + 2.4e-19 * (level - best_level),
                mse: 1e-6 + 0.03 * (level - best_level).powi(2),
            })
            .to_vec()
    }

    #[test]
    fn the_vertex_interpolates_d_to_the_profile_minimum() {
        let Vertex { level, d_m2s } = vertex(&levels(0.7, 0.9921, 2.71e-19));
        assert!((level - 0.9921).abs() < 1e-12, "{level}");
        assert!((d_m2s / 2.71e-19 - 1.0).abs() < 1e-12, "{d_m2s:e}");
        // The lowest at an end: that level, as tried.
        let tried = [(0.95, 3e-6), (1.0, 2e-6), (1.05, 1e-6)].map(|(level, mse)| LevelEvaluation {
            level,
            smoothing_voxels: 0.7,
            d_m2s: 2.7e-19 * level,
            mse,
        });
        let expected = Vertex {
            level: 1.05,
            d_m2s: 2.7e-19 * 1.05,
        };
        assert_eq!(vertex(&tried), expected);
    }

    #[test]
    fn the_smoothing_share_is_half_the_spread_of_the_vertices() {
        let tried = levels(0.7, 1.0, 2.73e-19);
        let curvature = profile_curvature(&tried).unwrap();
        let others = [(0.55, 0.99, 2.70e-19), (0.85, 1.01, 2.76e-19)].map(|(width, best, d)| {
            WidthVertex::of(levels(width, best, d)[1..].to_vec(), curvature)
        });
        let share = smoothing_share(&tried, &others);
        assert!((share / 0.03e-19 - 1.0).abs() < 1e-9, "{share:e}");
        assert_eq!(smoothing_share(&tried, &[]), 0.0);
    }
}
