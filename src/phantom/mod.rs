//! Synthetic core-shell particles (docs/METHOD.md §5): the paper's named particles and custom ones
//! built from [`Shape`]s, voxelised with 3×3×3 supersampling into an Au-fraction volume and a mask.
//!
//! The grid is square in each k-slice and padded so that the particle, and a margin of
//! `pad_voxels` around it, lies inside every tilted view of a ±90° tilt series (the detector covers
//! the slice's width). The particle's long axis runs along the tilt axis k unless asked otherwise.

pub mod jitter;
pub mod shapes;

use std::f64::consts::SQRT_2;

use anyhow::{Result, bail, ensure};
use ndarray::{Array3, Zip};
use rayon::prelude::*;
use serde::Serialize;

pub use jitter::ShapeJitter;
pub use shapes::Shape;

use crate::backend::Backend;
use crate::volume::{Mask, Volume};

/// An Ag shell around an Au core, with the paper's targets where it reports them.
#[derive(Debug, Clone, PartialEq)]
pub struct Particle {
    pub name: String,
    pub shell: Shape,
    pub core: Shape,
    /// Volume (nm³) and Au fraction the phantom should reach.
    pub target_volume_nm3: f64,
    pub target_au_fraction: f64,
    /// Surfaces moved off the ideal shapes (`synth --shape-jitter`); none for the ideal particle.
    pub jitter: Option<ShapeJitter>,
}

impl Particle {
    /// A particle of the user's shapes, named `custom`, whose targets are the shapes' own volumes.
    pub fn custom(shell: Shape, core: Shape) -> Particle {
        let (volume_nm3, core_nm3) = (shell.volume_nm3(), core.volume_nm3());
        particle("custom", shell, core, volume_nm3, core_nm3 / volume_nm3)
    }

    /// Whether `point` (nm, the shapes' frame) lies in the shell, jittered if the particle is.
    fn shell_contains(&self, point: [f64; 3]) -> bool {
        match &self.jitter {
            Some(jitter) => jitter.shell_contains(&self.shell, point),
            None => self.shell.contains(point),
        }
    }

    /// Whether `point` lies in the core, jittered if the particle is.
    fn core_contains(&self, point: [f64; 3]) -> bool {
        match &self.jitter {
            Some(jitter) => jitter.core_contains(&self.core, point),
            None => self.core.contains(point),
        }
    }

    /// Half-extents (x, y, z) in nm that hold the shell, jittered if the particle is.
    fn half_extents_nm(&self) -> [f64; 3] {
        let reach = self.jitter.as_ref().map_or(0.0, ShapeJitter::amplitude_nm);
        self.shell.half_extents_nm().map(|h| h + reach)
    }
}

/// Edge of NC1's Ag cube, the template the scaled cubes are built from.
const NC1_EDGE_NM: f64 = 57.99;

fn nc1_core() -> Shape {
    Shape::TruncatedOctahedron {
        size: 32.17,
        truncation: 25.0,
    }
}

fn particle(name: &str, shell: Shape, core: Shape, volume_nm3: f64, au_fraction: f64) -> Particle {
    Particle {
        name: name.to_owned(),
        shell,
        core,
        target_volume_nm3: volume_nm3,
        target_au_fraction: au_fraction,
        jitter: None,
    }
}

/// The paper's particles (Table 1), the cubes scaled from NC1, and the small fast-alloying rod.
pub fn named_particles() -> Vec<Particle> {
    let spherocylinder = |length, diameter| Shape::Spherocylinder { length, diameter };
    let pentagonal_rod = |circumradius, length| Shape::PentagonalRod {
        circumradius,
        length,
    };
    let mut particles = vec![
        particle(
            "NC1",
            Shape::Cube { edge: NC1_EDGE_NM },
            nc1_core(),
            195e3,
            0.22,
        ),
        particle(
            "NC2",
            Shape::Cube { edge: 52.90 },
            Shape::Sphere { diameter: 40.78 },
            148e3,
            0.24,
        ),
        particle(
            "NR1",
            spherocylinder(48.07, 20.90),
            spherocylinder(41.65, 14.48),
            14.1e3,
            0.43,
        ),
        particle(
            "NR2",
            spherocylinder(77.92, 21.06),
            spherocylinder(71.59, 14.73),
            24.7e3,
            0.46,
        ),
        particle(
            "NR3",
            pentagonal_rod(9.969, 81.74),
            pentagonal_rod(6.719, 75.28),
            17.5e3,
            0.43,
        ),
        particle(
            "NR4",
            pentagonal_rod(12.866, 79.77),
            Shape::PentagonalBipyramid {
                waist: 11.95,
                apex_half_height: 56.0,
                truncation: 36.0,
            },
            27.5e3,
            0.44,
        ),
    ];
    for edge in [45.0, 60.0, 75.0] {
        particles.push(particle(
            &format!("cube{edge}"),
            Shape::Cube { edge },
            nc1_core().scaled(edge / NC1_EDGE_NM),
            edge * edge * edge,
            0.22,
        ));
    }
    // The paper gives only the dimensions and the volume; the Au fraction target is the analytic
    // one.
    let (shell, core) = (spherocylinder(24.84, 10.35), spherocylinder(22.53, 8.04));
    particles.push(particle(
        "small-rod",
        shell,
        core,
        1.8e3,
        core.volume_nm3() / shell.volume_nm3(),
    ));
    particles
}

/// Looks up a named particle (case-insensitive).
pub fn find_particle(name: &str) -> Result<Particle> {
    let all = named_particles();
    if let Some(found) = all.iter().find(|p| p.name.eq_ignore_ascii_case(name)) {
        return Ok(found.clone());
    }
    let names: Vec<&str> = all.iter().map(|p| p.name.as_str()).collect();
    bail!(
        "unknown particle '{name}'; named particles are {}, or use 'custom' with --shell and --core",
        names.join(", ")
    )
}

/// Which grid axis the particle's long (z) axis lies along.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LongAxis {
    /// Along the tilt axis k (the default, as in the paper's reconstructions).
    #[default]
    K,
    /// Along i, in the slice plane (the beam direction at 0° tilt).
    I,
    /// Along j, in the slice plane (across the beam at 0° tilt).
    J,
}

/// How to voxelise a particle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhantomOptions {
    pub voxel_nm: f64,
    /// Empty voxels kept between the particle and every side of the grid (in every tilted view).
    pub pad_voxels: usize,
    pub long_axis: LongAxis,
}

impl Default for PhantomOptions {
    fn default() -> Self {
        Self {
            voxel_nm: 1.0,
            pad_voxels: 4,
            long_axis: LongAxis::K,
        }
    }
}

/// A voxelised particle: Au fraction per voxel (0 outside the mask) and the mask.
#[derive(Debug, Clone)]
pub struct Phantom {
    pub composition: Volume,
    pub mask: Mask,
}

/// What a voxelised particle achieved, to compare with its targets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Achieved {
    /// Mask voxels × voxel volume, nm³.
    pub volume_nm3: f64,
    /// Mean composition over the mask (at.% = vol%, docs/METHOD.md §5).
    pub au_fraction: f64,
}

impl Phantom {
    /// Measures volume and Au fraction with the backend's masked-moments kernel.
    pub fn achieved(&self, backend: &Backend) -> Result<Achieved> {
        let moments = backend.masked_moments(&self.composition, &self.mask)?;
        Ok(Achieved {
            volume_nm3: moments.count * self.mask.voxel_nm().powi(3),
            au_fraction: moments.mean(),
        })
    }
}

/// Sub-sample offsets in voxels: 3×3×3 points at the centres of the voxel's sub-cells.
const SUBSAMPLE_OFFSETS: [f64; 3] = [-1.0 / 3.0, 0.0, 1.0 / 3.0];
/// A voxel is in the mask when at least half of its 27 sub-samples are in the shell.
const MASK_MIN_SUBSAMPLES: u32 = 14;

/// Physical coordinate (nm) of the centre of index `n` on an axis of `len` voxels, centred on 0.
/// For the i axis (rows) this is reversed, row 0 at +y, as in docs/METHOD.md §2.
fn centre_nm(n: usize, len: usize, voxel_nm: f64) -> f64 {
    (n as f64 + 0.5 - len as f64 / 2.0) * voxel_nm
}

/// Maps grid-frame (x along j, y along i, z along k) to the shape's frame (long axis z).
fn to_shape_frame([x, y, z]: [f64; 3], long_axis: LongAxis) -> [f64; 3] {
    match long_axis {
        LongAxis::K => [x, y, z],
        LongAxis::I => [x, z, y],
        LongAxis::J => [z, y, x],
    }
}

/// Sub-samples of the voxel centred at `centre` (grid frame, nm) inside the shell, and inside both
/// shell and core (the core is only tested where `with_core`).
fn subsample_counts(
    particle: &Particle,
    centre: [f64; 3],
    options: &PhantomOptions,
    with_core: bool,
) -> (u32, u32) {
    let h = options.voxel_nm;
    let (mut in_shell, mut in_core) = (0u32, 0u32);
    for dz in SUBSAMPLE_OFFSETS {
        for dy in SUBSAMPLE_OFFSETS {
            for dx in SUBSAMPLE_OFFSETS {
                let point = to_shape_frame(
                    [centre[0] + dx * h, centre[1] + dy * h, centre[2] + dz * h],
                    options.long_axis,
                );
                if particle.shell_contains(point) {
                    in_shell += 1;
                    in_core += u32::from(with_core && particle.core_contains(point));
                }
            }
        }
    }
    (in_shell, in_core)
}

/// Centre (grid frame, nm) of voxel (k, i, j) on a grid of `shape`.
fn voxel_centre([k, i, j]: [usize; 3], [n_k, n_i, n_j]: [usize; 3], h: f64) -> [f64; 3] {
    [
        centre_nm(j, n_j, h),
        -centre_nm(i, n_i, h),
        centre_nm(k, n_k, h),
    ]
}

/// Voxelises `particle` with 3×3×3 supersampling.
///
/// Where the particle's centre falls inside a voxel is arbitrary, but on a coarse grid it decides
/// whether a flat face's boundary layer rounds in or out (a 52.9 nm cube at 1 nm is 52 or 53 voxels
/// wide). So along k and in-plane, the centre is put on a voxel corner (even size) or a voxel
/// centre (odd size), whichever gives a mask volume closer to the analytic one.
pub fn voxelize(particle: &Particle, options: &PhantomOptions) -> Result<Phantom> {
    let h = options.voxel_nm;
    ensure!(
        h.is_finite() && h > 0.0,
        "voxel size must be a positive number of nm, got {h}"
    );
    let [hx, hy, hz] = to_shape_frame(particle.half_extents_nm(), options.long_axis);
    // The in-plane bounding box's corner bounds every in-plane radius of the particle; a voxel's
    // sub-samples reach at most one voxel beyond the shape.
    let radius_nm = (hx * hx + hy * hy).sqrt() + h;
    let pad = options.pad_voxels;
    let even_plane = 2 * ((radius_nm / h).ceil() as usize + pad);
    let even_k = 2 * ((hz / h).ceil() as usize + 1 + pad);
    let largest = (even_plane + 1)
        .checked_mul(even_plane + 1)
        .and_then(|n| n.checked_mul(even_k + 1));
    let Some(largest) = largest.filter(|&n| n <= 1 << 31) else {
        bail!(
            "a {even_k} x {even_plane} x {even_plane} grid is too large; use a coarser --voxel-nm than {h}"
        );
    };
    // A composition (f32) and a mask (bool) per voxel.
    crate::memory::check(
        || format!("a {even_k} x {even_plane} x {even_plane} phantom grid at {h} nm"),
        largest as u64 * 5,
    )?;

    let target_voxels = particle.shell.volume_nm3() / (h * h * h);
    let shape = [0, 1]
        .into_iter()
        .flat_map(|odd_k| {
            [0, 1].map(|odd_plane| {
                [
                    even_k + odd_k,
                    even_plane + odd_plane,
                    even_plane + odd_plane,
                ]
            })
        })
        .min_by_key(|&shape| {
            let count: usize = (0..shape[0] * shape[1] * shape[2])
                .into_par_iter()
                .filter(|&n| {
                    let index = [
                        n / (shape[1] * shape[2]),
                        n / shape[2] % shape[1],
                        n % shape[2],
                    ];
                    let centre = voxel_centre(index, shape, h);
                    subsample_counts(particle, centre, options, false).0 >= MASK_MIN_SUBSAMPLES
                })
                .count();
            (count as f64 - target_voxels).abs() as u64
        })
        .expect("four candidate grids");
    voxelize_on(particle, options, shape)
}

/// Voxelises `particle` with 3×3×3 supersampling on a grid of `shape`, centred on the particle's
/// centre: the grid [`voxelize`] picks, or one `n` times as fine in every direction, whose voxels
/// tile that grid's `n` × `n` × `n` to a voxel.
pub fn voxelize_on(
    particle: &Particle,
    options: &PhantomOptions,
    shape: [usize; 3],
) -> Result<Phantom> {
    let h = options.voxel_nm;
    ensure!(
        h.is_finite() && h > 0.0,
        "voxel size must be a positive number of nm, got {h}"
    );
    crate::memory::check(
        || {
            format!(
                "a {} x {} x {} phantom grid at {h} nm",
                shape[0], shape[1], shape[2]
            )
        },
        shape.iter().map(|&n| n as u64).product::<u64>() * 5,
    )?;
    let mut composition = Array3::<f32>::zeros(shape);
    let mut mask = Array3::<bool>::from_elem(shape, false);
    Zip::indexed(&mut composition)
        .and(&mut mask)
        .par_for_each(|(k, i, j), c, m| {
            let centre = voxel_centre([k, i, j], shape, h);
            let (in_shell, in_core) = subsample_counts(particle, centre, options, true);
            *m = in_shell >= MASK_MIN_SUBSAMPLES;
            if *m {
                *c = in_core as f32 / in_shell as f32;
            }
        });

    let mask = Mask::new(mask, h)?;
    ensure!(
        mask.count() > 0,
        "particle '{}' has no voxel at {h} nm; use a finer --voxel-nm",
        particle.name
    );
    Ok(Phantom {
        composition: Volume::new(composition, h)?,
        mask,
    })
}

/// The largest in-plane distance (nm) from the tilt axis to any corner of a mask voxel: the
/// particle stays on the detector at every tilt angle while this is at most half the slice width.
pub fn max_in_plane_radius_nm(mask: &Mask) -> f64 {
    let [_, n_i, n_j] = mask.shape();
    let h = mask.voxel_nm();
    let mut radius: f64 = 0.0;
    for ((_, i, j), &inside) in mask.data().indexed_iter() {
        if inside {
            let (x, y) = (centre_nm(j, n_j, h), centre_nm(i, n_i, h));
            radius = radius.max((x * x + y * y).sqrt() + h / SQRT_2);
        }
    }
    radius
}
