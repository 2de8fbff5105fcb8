//! `simulate` as a library call: diffuse an initial composition with a given D and write one
//! volume per time, plus simulation.csv with tau, the total Au (a conservation check) and the
//! diffusion-only alloying degree 1 − std_M(C_t)/std_M(C_0).

use anyhow::Result;
use serde::Serialize;

use crate::backend::Backend;
use crate::diffusion::{PreparedMask, Trajectory, tau_nm2};
use crate::io::{Format, Overwrite, StagedDir, write_volume};
use crate::progress::Progress;
use crate::volume::Volume;

use super::csv_file;

/// What to simulate.
pub struct SimulateConfig<'c> {
    pub d_m2s: f64,
    /// Increasing, from 0 or more.
    pub times_s: &'c [f64],
    pub beta: f64,
    pub format: Format,
}

/// One time point of simulation.csv.
#[derive(Debug, Serialize)]
pub struct SimulatedTime {
    pub t_s: f64,
    pub tau_nm2: f64,
    /// Σ C over the mask × voxel volume: the Au volume in nm³, constant up to rounding.
    pub total_au_nm3: f64,
    /// 1 − std_M(C_t) / std_M(C_0).
    pub alloying: f64,
    pub file: String,
}

/// One time of a diffusion run: the diffusion-only statistics of its composition.
#[derive(Debug, Clone, Copy)]
pub struct DiffusedTime {
    pub t_s: f64,
    pub tau_nm2: f64,
    pub total_au_nm3: f64,
    /// 1 − std_M(C_t)/std_M(C_0).
    pub alloying: f64,
}

/// Diffuses `start` on `backend` with `d_m2s` through `times_s` (increasing, in s), handing each
/// time's statistics and composition to `each`; returns the full steps taken.
pub fn diffuse_through_times(
    start: &PreparedMask,
    d_m2s: f64,
    times_s: &[f64],
    beta: f64,
    backend: &Backend,
    progress: &mut dyn Progress,
    each: &mut dyn FnMut(DiffusedTime, Volume) -> Result<()>,
) -> Result<u64> {
    let mut trajectory = Trajectory::new(backend, &start.composition, &start.mask, beta)?;
    let last_t_s = times_s.last().copied().unwrap_or(0.0);
    let total_steps = trajectory.steps_to(tau_nm2(d_m2s, last_t_s)) as usize;
    progress.line(&format!("diffusing on {}", backend.describe()));
    let voxel_volume_nm3 = start.composition.voxel_nm().powi(3);
    let mut steps_done = 0;
    let mut initial_std = None;
    for &t_s in times_s {
        let tau = tau_nm2(d_m2s, t_s);
        trajectory.advance_to_reporting(tau, &mut |steps| {
            steps_done += steps as usize;
            progress.step("diffusion steps", steps_done, total_steps)
        })?;
        let moments = trajectory.snapshot_moments()?;
        let std0 = *initial_std.get_or_insert(moments.std());
        let stats = DiffusedTime {
            t_s,
            tau_nm2: tau,
            total_au_nm3: moments.sum * voxel_volume_nm3,
            alloying: 1.0 - moments.std() / std0,
        };
        each(stats, trajectory.snapshot_volume()?)?;
    }
    Ok(trajectory.full_steps_done())
}

/// Diffuses `start` on `backend` through `config`'s times, writing a volume per time and
/// simulation.csv into `staged` (not committed); returns the rows and the full steps taken.
pub fn simulate_into(
    start: &PreparedMask,
    config: &SimulateConfig,
    backend: &Backend,
    staged: &StagedDir,
    progress: &mut dyn Progress,
) -> Result<(Vec<SimulatedTime>, u64)> {
    let mut rows = Vec::with_capacity(config.times_s.len());
    let steps = diffuse_through_times(
        start,
        config.d_m2s,
        config.times_s,
        config.beta,
        backend,
        progress,
        &mut |time, volume| {
            let file = format!("c_t{}s.{}", time.t_s, config.format.extension());
            write_volume(&staged.path(&file), &volume, Overwrite::Refuse)?;
            rows.push(SimulatedTime {
                t_s: time.t_s,
                tau_nm2: time.tau_nm2,
                total_au_nm3: time.total_au_nm3,
                alloying: time.alloying,
                file,
            });
            Ok(())
        },
    )?;
    csv_file(&staged.path("simulation.csv"), Overwrite::Refuse, |out| {
        for row in &rows {
            out.serialize(row)?;
        }
        Ok(())
    })?;
    Ok((rows, steps))
}
