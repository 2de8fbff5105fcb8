//! Command-line interface: one module per subcommand. Each turns its clap arguments into library
//! calls and prints for a person, or JSON with `--json`.

mod batch;
mod devices;
mod fit;
mod info;
mod phantom;
mod project;
mod quantify;
mod reconstruct;
mod simulate;
mod synth;

use anyhow::{Context, Result, ensure};
use clap::{Parser, Subcommand, ValueEnum};

use alloyfit::backend::{DeviceChoice, DeviceRequest};
use alloyfit::io::Overwrite;
use alloyfit::io::tilts::{parse_tilt_spec, read_tilt_file};
use alloyfit::progress::Interrupted;

#[derive(Debug, Parser)]
#[command(
    name = "alloyfit",
    version,
    about = "Measure Au/Ag interdiffusion in single nanoparticles from in-situ electron tomography"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The most memory one volume may take, e.g. 8GiB (default: 3/4 of the available memory).
    #[arg(long, global = true, env = "ALLOYFIT_MEMORY_BUDGET")]
    memory_budget: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show a volume file's shape, sample type, voxel size and value range.
    Info(info::Args),
    /// Make a synthetic core-shell particle: Au-fraction volume and mask.
    Phantom(phantom::Args),
    /// Diffuse an initial composition with a given D; one volume per time and a CSV.
    Simulate(simulate::Args),
    /// Project a volume into a tilt series (optionally with Poisson noise).
    Project(project::Args),
    /// Reconstruct a volume from a tilt series with SIRT.
    Reconstruct(reconstruct::Args),
    /// Make a synthetic experiment: a phantom diffused with a known D, imaged at each time.
    Synth(synth::Args),
    /// Quantify an experiment: the measured alloying curve, the noise and the simulation dose.
    Quantify(quantify::Args),
    /// Fit D ± SD to an experiment and write a report folder.
    Fit(fit::Args),
    /// Fit every experiment of a manifest (or a Slurm array task's shard), resumably.
    Batch(batch::Args),
    /// One table (CSV and Markdown) of a batch's results, as the paper's Table 2.
    Summarize(batch::SummarizeArgs),
    /// List the GPU adapters alloyfit can use, with the limits that matter.
    Devices(devices::Args),
}

/// `--device` and `--adapter`, shared by every subcommand that runs kernels.
#[derive(Debug, clap::Args)]
pub struct DeviceArgs {
    /// Where kernels run: auto picks a hardware GPU if there is one, else the CPU.
    #[arg(long, value_enum, default_value_t = DeviceArg::Auto)]
    device: DeviceArg,
    /// Use the adapter whose name contains this text (see `alloyfit devices`).
    #[arg(long)]
    adapter: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DeviceArg {
    Auto,
    Gpu,
    Cpu,
}

impl DeviceArgs {
    pub fn request(&self) -> DeviceRequest {
        DeviceRequest {
            choice: match self.device {
                DeviceArg::Auto => DeviceChoice::Auto,
                DeviceArg::Gpu => DeviceChoice::Gpu,
                DeviceArg::Cpu => DeviceChoice::Cpu,
            },
            adapter: self.adapter.clone(),
        }
    }
}

pub fn run(cli: Cli) -> Result<()> {
    if let Some(text) = &cli.memory_budget {
        let bytes = alloyfit::memory::parse_size(text)
            .context("--memory-budget (or ALLOYFIT_MEMORY_BUDGET)")?;
        alloyfit::memory::set_budget_bytes(bytes);
    }
    match cli.command {
        Command::Info(args) => info::run(&args),
        Command::Phantom(args) => phantom::run(&args),
        Command::Simulate(args) => simulate::run(&args),
        Command::Project(args) => project::run(&args),
        Command::Reconstruct(args) => reconstruct::run(&args),
        Command::Synth(args) => synth::run(&args),
        Command::Quantify(args) => quantify::run(&args),
        Command::Fit(args) => fit::run(&args),
        Command::Batch(args) => batch::run(&args),
        Command::Summarize(args) => batch::summarize_run(&args),
        Command::Devices(args) => devices::run(&args),
    }
}

/// `--tilts`: a file with one angle per line, or a spec `start:stop:step` / `a,b,c` (degrees).
#[derive(Debug, clap::Args)]
pub struct TiltArgs {
    /// Tilt angles: a file (IMOD .tlt/.rawtlt) or start:stop:step or a,b,c in degrees.
    #[arg(long, default_value = "-70:70:2", allow_hyphen_values = true)]
    tilts: String,
}

impl TiltArgs {
    /// The spec or file name as given.
    pub fn spec(&self) -> &str {
        &self.tilts
    }

    pub fn angles(&self) -> Result<Vec<f64>> {
        let path = std::path::Path::new(&self.tilts);
        if path.is_file() {
            read_tilt_file(path)
        } else {
            parse_tilt_spec(&self.tilts).context("--tilts (neither a file nor an angle spec)")
        }
    }
}

/// On SIGINT, SIGTERM or SIGHUP (Ctrl-C, `scancel`, a closed terminal): removes the outputs still
/// being written, says so, and exits with status 130. Outputs already complete stay as they are.
pub fn exit_cleanly_on_interrupt() {
    let installed = ctrlc::set_handler(|| {
        let abandoned = alloyfit::io::abandon_staging();
        eprintln!(
            "interrupted: removed {abandoned} unfinished output(s); every output already written is complete"
        );
        std::process::exit(130);
    });
    if let Err(error) = installed {
        eprintln!(
            "warning: cannot catch interrupts ({error}); an interrupted run may leave hidden .partial files"
        );
    }
}

/// `--force` as the library's overwrite policy.
pub fn overwrite_policy(force: bool) -> Overwrite {
    if force {
        Overwrite::Allow
    } else {
        Overwrite::Refuse
    }
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json(value: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Parses comma-separated times in s that start at or above 0 and increase.
pub fn parse_times(text: &str) -> Result<Vec<f64>> {
    let times: Vec<f64> = text
        .split(',')
        .map(|t| {
            t.trim()
                .parse::<f64>()
                .with_context(|| format!("--times: '{}' is not a number of seconds", t.trim()))
        })
        .collect::<Result<_>>()?;
    ensure!(!times.is_empty(), "--times: no times given");
    for pair in times.windows(2) {
        ensure!(
            pair[1] > pair[0],
            "--times must increase: {} comes after {}",
            pair[1],
            pair[0]
        );
    }
    ensure!(
        times.iter().all(|t| t.is_finite() && *t >= 0.0),
        "--times must be finite and not negative"
    );
    Ok(times)
}

/// Reports library progress on stderr: a bar per stage on a terminal, plain time-stamped lines
/// otherwise (a step line at each quarter of a stage), nothing with `--quiet`.
pub struct Reporter {
    quiet: bool,
    terminal: bool,
    started: std::time::Instant,
    bar: Option<(String, indicatif::ProgressBar)>,
}

impl Reporter {
    pub fn new(quiet: bool) -> Reporter {
        Reporter {
            quiet,
            terminal: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            started: std::time::Instant::now(),
            bar: None,
        }
    }

    fn stamped(&self, text: &str) -> String {
        format!("[{:7.1} s] {text}", self.started.elapsed().as_secs_f64())
    }

    fn bar_for(&mut self, stage: &str, total: usize) -> &indicatif::ProgressBar {
        if self.bar.as_ref().is_some_and(|(name, _)| name != stage) {
            self.finish_bar();
        }
        let &mut (_, ref bar) = self.bar.get_or_insert_with(|| {
            let (bar, template) = if total == 0 {
                (
                    indicatif::ProgressBar::new_spinner(),
                    "{msg}: {pos} done, {elapsed}",
                )
            } else {
                (
                    indicatif::ProgressBar::new(total as u64),
                    "{msg} [{bar:30}] {pos}/{len}, {eta} left",
                )
            };
            let style =
                indicatif::ProgressStyle::with_template(template).expect("valid bar template");
            (
                stage.to_owned(),
                bar.with_style(style).with_message(stage.to_owned()),
            )
        });
        bar
    }

    /// A time-stamped line on stderr, above the bar if one is showing.
    fn print(&self, text: &str) {
        let line = self.stamped(text);
        match &self.bar {
            Some((_, bar)) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    fn finish_bar(&mut self) {
        if let Some((_, bar)) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl alloyfit::progress::Progress for Reporter {
    fn line(&mut self, text: &str) {
        if self.quiet {
            return;
        }
        self.print(text);
    }

    fn warn(&mut self, text: &str) {
        self.print(&format!("warning: {text}"));
    }

    /// Never interrupts: the command line stops on a signal instead ([`exit_cleanly_on_interrupt`]).
    fn step(&mut self, stage: &str, done: usize, total: usize) -> Result<(), Interrupted> {
        if self.quiet {
            return Ok(());
        }
        if self.terminal {
            self.bar_for(stage, total).set_position(done as u64);
            if total > 0 && done >= total {
                self.finish_bar();
            }
            return Ok(());
        }
        let quarter = |n: usize| (4 * n).checked_div(total).unwrap_or(n);
        if done == total || quarter(done) > quarter(done.saturating_sub(1)) {
            let count = if total == 0 {
                format!("{done}")
            } else {
                format!("{done}/{total}")
            };
            eprintln!("{}", self.stamped(&format!("{stage}: {count}")));
        }
        Ok(())
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.finish_bar();
    }
}
