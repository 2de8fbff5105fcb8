//! The solid shapes the paper's particles are built from (docs/METHOD.md §5), centred at the origin
//! with their long axis along z. Lengths in nm. Each shape answers "is this point inside", its
//! analytic volume, and its half-extents, and can be written as and parsed from a spec such as
//! `spherocylinder:length=48.07,diameter=20.90`.

use std::f64::consts::PI;
use std::fmt;

use anyhow::{Context, Result, bail, ensure};

/// A solid centred at the origin, long axis along z.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// `|x|, |y|, |z| ≤ edge/2`.
    Cube {
        edge: f64,
    },
    Sphere {
        diameter: f64,
    },
    /// A cylinder with hemispherical ends; `length` includes the caps.
    Spherocylinder {
        length: f64,
        diameter: f64,
    },
    /// `|x| + |y| + |z| ≤ size` cut by `|x_i| ≤ truncation`.
    TruncatedOctahedron {
        size: f64,
        truncation: f64,
    },
    /// A regular pentagonal prism (circumradius in xy) with pyramidal caps of height
    /// `circumradius/√3`; `length` includes the caps.
    PentagonalRod {
        circumradius: f64,
        length: f64,
    },
    /// A pentagonal bipyramid (circumradius `waist` at z = 0, apexes at ±`apex_half_height`)
    /// cut by `|z| ≤ truncation`.
    PentagonalBipyramid {
        waist: f64,
        apex_half_height: f64,
        truncation: f64,
    },
}

/// Distance from the centre of a regular pentagon to its edges, per unit circumradius.
fn apothem_per_radius() -> f64 {
    (PI / 5.0).cos()
}

/// Whether (x, y) lies in the regular pentagon of circumradius `radius` with a vertex on +y.
fn inside_pentagon(x: f64, y: f64, radius: f64) -> bool {
    let apothem = radius * apothem_per_radius();
    (0..5).all(|m| {
        // Edge normals sit halfway between vertices: 90° + 36° + 72°·m.
        let angle = PI / 2.0 + PI / 5.0 + 2.0 * PI * f64::from(m) / 5.0;
        x * angle.cos() + y * angle.sin() <= apothem
    })
}

fn pentagon_area(radius: f64) -> f64 {
    2.5 * radius * radius * (2.0 * PI / 5.0).sin()
}

impl Shape {
    /// Whether the point (x, y, z) in nm lies inside.
    pub fn contains(&self, [x, y, z]: [f64; 3]) -> bool {
        match *self {
            Shape::Cube { edge } => x.abs().max(y.abs()).max(z.abs()) <= edge / 2.0,
            Shape::Sphere { diameter } => x * x + y * y + z * z <= diameter * diameter / 4.0,
            Shape::Spherocylinder { length, diameter } => {
                let half_cylinder = (length - diameter) / 2.0;
                let dz = (z.abs() - half_cylinder).max(0.0);
                x * x + y * y + dz * dz <= diameter * diameter / 4.0
            }
            Shape::TruncatedOctahedron { size, truncation } => {
                x.abs() + y.abs() + z.abs() <= size
                    && x.abs().max(y.abs()).max(z.abs()) <= truncation
            }
            Shape::PentagonalRod {
                circumradius,
                length,
            } => {
                let cap = circumradius / 3f64.sqrt();
                let half = length / 2.0;
                let scale = ((half - z.abs()) / cap).min(1.0);
                scale >= 0.0 && inside_pentagon(x, y, circumradius * scale)
            }
            Shape::PentagonalBipyramid {
                waist,
                apex_half_height,
                truncation,
            } => {
                z.abs() <= truncation
                    && inside_pentagon(x, y, waist * (1.0 - z.abs() / apex_half_height))
            }
        }
    }

    /// The analytic volume in nm³.
    pub fn volume_nm3(&self) -> f64 {
        match *self {
            Shape::Cube { edge } => edge.powi(3),
            Shape::Sphere { diameter } => PI * diameter.powi(3) / 6.0,
            Shape::Spherocylinder { length, diameter } => {
                let r = diameter / 2.0;
                PI * r * r * (length - diameter) + 4.0 / 3.0 * PI * r.powi(3)
            }
            Shape::TruncatedOctahedron { size, truncation } => {
                // Each of the six vertex pyramids beyond |x_i| = truncation has volume (2/3)(a −
                // t)³.
                let cut = (size - truncation).max(0.0);
                4.0 / 3.0 * size.powi(3) - 6.0 * 2.0 / 3.0 * cut.powi(3)
            }
            Shape::PentagonalRod {
                circumradius,
                length,
            } => {
                let cap = circumradius / 3f64.sqrt();
                let area = pentagon_area(circumradius);
                area * (length - 2.0 * cap) + 2.0 * area * cap / 3.0
            }
            Shape::PentagonalBipyramid {
                waist,
                apex_half_height,
                truncation,
            } => {
                // Two frusta of a pyramid: area scales with (1 − z/H)².
                let h = apex_half_height;
                let t = truncation.min(h);
                2.0 * pentagon_area(waist) * h / 3.0 * (1.0 - (1.0 - t / h).powi(3))
            }
        }
    }

    /// Half-extents (x, y, z) of the bounding box in nm.
    pub fn half_extents_nm(&self) -> [f64; 3] {
        match *self {
            Shape::Cube { edge } => [edge / 2.0; 3],
            Shape::Sphere { diameter } => [diameter / 2.0; 3],
            Shape::Spherocylinder { length, diameter } => {
                [diameter / 2.0, diameter / 2.0, length / 2.0]
            }
            Shape::TruncatedOctahedron { size, truncation } => [size.min(truncation); 3],
            Shape::PentagonalRod {
                circumradius,
                length,
            } => [circumradius, circumradius, length / 2.0],
            Shape::PentagonalBipyramid {
                waist,
                apex_half_height,
                truncation,
            } => [waist, waist, truncation.min(apex_half_height)],
        }
    }

    /// The spec keyword and the parameters in spec order.
    fn kind_and_params(&self) -> (&'static str, Vec<(&'static str, f64)>) {
        match *self {
            Shape::Cube { edge } => ("cube", vec![("edge", edge)]),
            Shape::Sphere { diameter } => ("sphere", vec![("diameter", diameter)]),
            Shape::Spherocylinder { length, diameter } => (
                "spherocylinder",
                vec![("length", length), ("diameter", diameter)],
            ),
            Shape::TruncatedOctahedron { size, truncation } => (
                "truncated-octahedron",
                vec![("size", size), ("truncation", truncation)],
            ),
            Shape::PentagonalRod {
                circumradius,
                length,
            } => (
                "pentagonal-rod",
                vec![("circumradius", circumradius), ("length", length)],
            ),
            Shape::PentagonalBipyramid {
                waist,
                apex_half_height,
                truncation,
            } => (
                "pentagonal-bipyramid",
                vec![
                    ("waist", waist),
                    ("apex-half-height", apex_half_height),
                    ("truncation", truncation),
                ],
            ),
        }
    }

    /// Multiplies every length by `factor`.
    pub fn scaled(&self, factor: f64) -> Shape {
        let (kind, params) = self.kind_and_params();
        let values: Vec<f64> = params.iter().map(|(_, v)| v * factor).collect();
        Shape::build(kind, &values).expect("scaling keeps the shape kind and arity")
    }

    fn build(kind: &str, v: &[f64]) -> Option<Shape> {
        Some(match (kind, v) {
            ("cube", &[edge]) => Shape::Cube { edge },
            ("sphere", &[diameter]) => Shape::Sphere { diameter },
            ("spherocylinder", &[length, diameter]) => Shape::Spherocylinder { length, diameter },
            ("truncated-octahedron", &[size, truncation]) => {
                Shape::TruncatedOctahedron { size, truncation }
            }
            ("pentagonal-rod", &[circumradius, length]) => Shape::PentagonalRod {
                circumradius,
                length,
            },
            ("pentagonal-bipyramid", &[waist, apex_half_height, truncation]) => {
                Shape::PentagonalBipyramid {
                    waist,
                    apex_half_height,
                    truncation,
                }
            }
            _ => return None,
        })
    }

    /// Parses a spec `kind:key=value,...` (lengths in nm).
    pub fn parse(spec: &str) -> Result<Shape> {
        let (kind, rest) = spec.split_once(':').unwrap_or((spec, ""));
        let kind = kind.trim();
        let template = SHAPE_TEMPLATES
            .iter()
            .find(|s| s.kind_and_params().0 == kind)
            .with_context(|| {
                format!(
                    "unknown shape '{kind}' in '{spec}'; known shapes: {}",
                    shape_usage()
                )
            })?;
        let (_, expected) = template.kind_and_params();
        let mut values = vec![None; expected.len()];
        for pair in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .with_context(|| format!("'{pair}' in '{spec}' must be key=value"))?;
            let index = expected
                .iter()
                .position(|(name, _)| *name == key.trim())
                .with_context(|| {
                    format!(
                        "{kind} has no parameter '{}'; use {}",
                        key.trim(),
                        template.usage()
                    )
                })?;
            let number: f64 = value
                .trim()
                .parse()
                .with_context(|| format!("{kind}: {key}='{value}' is not a number"))?;
            ensure!(
                number.is_finite() && number > 0.0,
                "{kind}: {key} must be a positive length in nm, got {value}"
            );
            values[index] = Some(number);
        }
        let values: Vec<f64> = values
            .iter()
            .zip(&expected)
            .map(|(v, (name, _))| {
                v.with_context(|| format!("{kind} needs {name}; use {}", template.usage()))
            })
            .collect::<Result<_>>()?;
        let shape = Shape::build(kind, &values).expect("arity checked above");
        shape.check_consistent()?;
        Ok(shape)
    }

    fn check_consistent(&self) -> Result<()> {
        match *self {
            Shape::Spherocylinder { length, diameter } if length < diameter => {
                bail!("spherocylinder: length {length} must be at least the diameter {diameter}")
            }
            Shape::PentagonalRod {
                circumradius,
                length,
            } if length < 2.0 * circumradius / 3f64.sqrt() => bail!(
                "pentagonal-rod: length {length} must be at least the two caps, 2·circumradius/√3 = {}",
                2.0 * circumradius / 3f64.sqrt()
            ),
            _ => Ok(()),
        }
    }

    fn usage(&self) -> String {
        let (kind, params) = self.kind_and_params();
        let keys: Vec<String> = params.iter().map(|(k, _)| format!("{k}=<nm>")).collect();
        format!("{kind}:{}", keys.join(","))
    }
}

const SHAPE_TEMPLATES: [Shape; 6] = [
    Shape::Cube { edge: 1.0 },
    Shape::Sphere { diameter: 1.0 },
    Shape::Spherocylinder {
        length: 1.0,
        diameter: 1.0,
    },
    Shape::TruncatedOctahedron {
        size: 1.0,
        truncation: 1.0,
    },
    Shape::PentagonalRod {
        circumradius: 1.0,
        length: 1.0,
    },
    Shape::PentagonalBipyramid {
        waist: 1.0,
        apex_half_height: 1.0,
        truncation: 1.0,
    },
];

/// Every shape with its parameters, for help texts and errors.
pub fn shape_usage() -> String {
    let all: Vec<String> = SHAPE_TEMPLATES.iter().map(Shape::usage).collect();
    all.join(" | ")
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, params) = self.kind_and_params();
        let values: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        write!(f, "{kind}:{}", values.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_round_trip_through_display() {
        for spec in [
            "cube:edge=57.99",
            "sphere:diameter=40.78",
            "spherocylinder:length=48.07,diameter=20.9",
            "truncated-octahedron:size=32.17,truncation=25",
            "pentagonal-rod:circumradius=9.969,length=81.74",
            "pentagonal-bipyramid:waist=11.95,apex-half-height=56,truncation=36",
        ] {
            assert_eq!(Shape::parse(spec).unwrap().to_string(), spec);
        }
    }

    #[test]
    fn bad_specs_name_the_problem() {
        let cases = [
            ("blob:size=3", "unknown shape 'blob'"),
            ("cube", "cube needs edge"),
            ("cube:side=3", "no parameter 'side'"),
            ("cube:edge=-3", "positive length"),
            ("cube:edge=x", "not a number"),
            (
                "spherocylinder:length=5,diameter=10",
                "at least the diameter",
            ),
        ];
        for (spec, expected) in cases {
            let message = format!("{:#}", Shape::parse(spec).unwrap_err());
            assert!(message.contains(expected), "{spec}: {message}");
        }
    }

    /// Checks the analytic volumes by counting points of the R3 low-discrepancy sequence in the
    /// bounding box. A regular lattice would alias with the octahedron's {111} faces (as the
    /// voxeliser does) and bias the count by up to 1%.
    #[test]
    fn analytic_volumes_match_point_counts() {
        // Roberts' generalised golden ratio for three dimensions: the real root of x⁴ = x + 1.
        let phi3: f64 = 1.220_744_084_605_759_5;
        let alpha = [1.0 / phi3, 1.0 / (phi3 * phi3), 1.0 / phi3.powi(3)];
        for shape in [
            Shape::parse("truncated-octahedron:size=32.17,truncation=25").unwrap(),
            Shape::parse("pentagonal-rod:circumradius=9.969,length=81.74").unwrap(),
            Shape::parse("pentagonal-bipyramid:waist=11.95,apex-half-height=56,truncation=36")
                .unwrap(),
            Shape::parse("spherocylinder:length=48.07,diameter=20.9").unwrap(),
        ] {
            let half = shape.half_extents_nm();
            let points = 1_000_000;
            let inside = (0..points)
                .filter(|&n| {
                    let point = [0, 1, 2].map(|d| {
                        let unit = (0.5 + n as f64 * alpha[d]).fract();
                        (2.0 * unit - 1.0) * half[d]
                    });
                    shape.contains(point)
                })
                .count();
            let box_nm3: f64 = half.iter().map(|h| 2.0 * h).product();
            let counted = inside as f64 / points as f64 * box_nm3;
            let relative = (counted / shape.volume_nm3() - 1.0).abs();
            // Quasi-Monte Carlo error on 1e6 points is O(log(N)³/N), far below this.
            assert!(
                relative < 2e-3,
                "{shape}: counted {counted}, analytic {}",
                shape.volume_nm3()
            );
        }
    }
}
