//! Particles that are none of the listed shapes (`synth --shape-jitter`): each surface moves along
//! the ray from the centre by a smooth random amount of up to ± the amplitude, so that faces bulge
//! or bevel and corners round off or draw out. Real particles are never the ideal solids the fit's
//! phantoms are; data made from a jittered particle test that the fit does not rely on the ideal.

use anyhow::{Result, ensure};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal, Uniform};

use super::shapes::Shape;

/// Lobes summed per surface: enough that no symmetry of the ideal shape survives, few enough that
/// the surface stays smooth at the scale of the amplitude.
const LOBES: usize = 8;

/// One smooth wave over the directions: `weight · sin(frequency · (u · direction) + phase)`.
#[derive(Debug, Clone, PartialEq)]
struct Lobe {
    direction: [f64; 3],
    frequency: f64,
    phase: f64,
    weight: f64,
}

/// A smooth random function of direction with values in [−1, 1].
#[derive(Debug, Clone, PartialEq)]
struct LobeField {
    lobes: Vec<Lobe>,
    total_weight: f64,
}

impl LobeField {
    fn new(rng: &mut ChaCha8Rng) -> LobeField {
        // One to three waves across the sphere of directions.
        let frequency =
            Uniform::new(std::f64::consts::PI, 3.0 * std::f64::consts::PI).expect("a valid range");
        let phase = Uniform::new(0.0, 2.0 * std::f64::consts::PI).expect("a valid range");
        let weight = Uniform::new(0.5, 1.0).expect("a valid range");
        let lobes: Vec<Lobe> = (0..LOBES)
            .map(|_| {
                let mut direction: [f64; 3] = std::array::from_fn(|_| StandardNormal.sample(rng));
                let norm = direction
                    .iter()
                    .map(|c| c * c)
                    .sum::<f64>()
                    .sqrt()
                    .max(1e-12);
                direction.iter_mut().for_each(|c| *c /= norm);
                Lobe {
                    direction,
                    frequency: frequency.sample(rng),
                    phase: phase.sample(rng),
                    weight: weight.sample(rng),
                }
            })
            .collect();
        let total_weight = lobes.iter().map(|lobe| lobe.weight).sum();
        LobeField {
            lobes,
            total_weight,
        }
    }

    /// The field at unit vector `u`.
    fn at(&self, u: [f64; 3]) -> f64 {
        self.lobes
            .iter()
            .map(|lobe| {
                let along: f64 = (0..3).map(|a| u[a] * lobe.direction[a]).sum();
                lobe.weight * (lobe.frequency * along + lobe.phase).sin()
            })
            .sum::<f64>()
            / self.total_weight
    }
}

/// The jitter of a particle's shell and core: an amplitude and one field per surface.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapeJitter {
    amplitude_nm: f64,
    shell: LobeField,
    core: LobeField,
}

impl ShapeJitter {
    /// Surfaces moved by up to ±`amplitude_nm`, the fields drawn from `seed`.
    pub fn new(amplitude_nm: f64, seed: u64) -> Result<ShapeJitter> {
        ensure!(
            amplitude_nm.is_finite() && amplitude_nm >= 0.0,
            "the shape jitter must be a number of nm, 0 or more, got {amplitude_nm}"
        );
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Ok(ShapeJitter {
            amplitude_nm,
            shell: LobeField::new(&mut rng),
            core: LobeField::new(&mut rng),
        })
    }

    pub fn amplitude_nm(&self) -> f64 {
        self.amplitude_nm
    }

    /// Whether `point` (nm, the shapes' frame) lies inside the jittered shell.
    pub fn shell_contains(&self, shell: &Shape, point: [f64; 3]) -> bool {
        self.contains(&self.shell, shell, point)
    }

    /// Whether `point` lies inside the jittered core.
    pub fn core_contains(&self, core: &Shape, point: [f64; 3]) -> bool {
        self.contains(&self.core, core, point)
    }

    /// A point lies inside the surface moved outward by `a·f(u)` along its ray u when the point
    /// moved inward by as much lies inside the ideal shape: exact for the shapes here, which are
    /// all star-shaped about their centre.
    fn contains(&self, field: &LobeField, shape: &Shape, point: [f64; 3]) -> bool {
        let radius = point.iter().map(|c| c * c).sum::<f64>().sqrt();
        if radius == 0.0 {
            return shape.contains(point);
        }
        let unit = point.map(|c| c / radius);
        let shift_nm = self.amplitude_nm * field.at(unit);
        let scale = ((radius - shift_nm) / radius).max(0.0);
        shape.contains(point.map(|c| c * scale))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `count` unit vectors spread over the sphere (a spiral in the polar angle).
    fn directions(count: usize) -> impl Iterator<Item = [f64; 3]> {
        (0..count).map(move |n| {
            let theta = std::f64::consts::PI * (n as f64 + 0.5) / count as f64;
            let phi = 2.4 * n as f64;
            [
                theta.sin() * phi.cos(),
                theta.sin() * phi.sin(),
                theta.cos(),
            ]
        })
    }

    #[test]
    fn the_field_stays_within_one_and_is_not_constant() {
        let jitter = ShapeJitter::new(2.0, 7).unwrap();
        let values: Vec<f64> = directions(200).map(|u| jitter.shell.at(u)).collect();
        assert!(values.iter().all(|v| v.abs() <= 1.0));
        let spread = values.iter().cloned().fold(f64::MIN, f64::max)
            - values.iter().cloned().fold(f64::MAX, f64::min);
        assert!(spread > 0.5, "{spread}");
    }

    #[test]
    fn the_surface_moves_by_at_most_the_amplitude() {
        let cube = Shape::Cube { edge: 20.0 };
        let jitter = ShapeJitter::new(1.5, 3).unwrap();
        for u in directions(500) {
            // Along each ray, points 1.5 nm inside the ideal surface stay in and points 1.5 nm
            // beyond it stay out; the ideal surface is where the ray leaves the cube.
            let exit = 10.0 / u.iter().fold(0.0f64, |m, c| m.max(c.abs()));
            let at = |r: f64| u.map(|c| c * r);
            assert!(jitter.shell_contains(&cube, at(exit - 1.5 - 1e-9)));
            assert!(!jitter.shell_contains(&cube, at(exit + 1.5 + 1e-9)));
        }
        let none = ShapeJitter::new(0.0, 3).unwrap();
        assert!(none.shell_contains(&cube, [9.99, 9.99, 9.99]));
        assert!(!none.shell_contains(&cube, [10.01, 0.0, 0.0]));
    }

    #[test]
    fn the_seed_decides_the_shape() {
        assert_eq!(
            ShapeJitter::new(1.0, 5).unwrap(),
            ShapeJitter::new(1.0, 5).unwrap()
        );
        assert_ne!(
            ShapeJitter::new(1.0, 5).unwrap(),
            ShapeJitter::new(1.0, 6).unwrap()
        );
        assert!(ShapeJitter::new(-1.0, 5).is_err());
    }
}
