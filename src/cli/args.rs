//! Arguments shared by the subcommands and the live app (the options, solver and crop types,
//! the thread pool and the reporter), and the argument checks, so that one value means the
//! same and is refused with the same words everywhere. Each `parse_*` is a clap value parser:
//! a bad value is a usage error (clap's message, exit status 2) before anything starts.
//! Checks that need more than one value return a [`UsageError`], which `main` also turns into
//! exit status 2.

use crate::grid::{GridMethod, Solver};
use crate::images::Crop;
use crate::layout_io::{self, LayoutEntry};
use crate::pipeline::Cancelled;
use crate::progress::{CliReporter, Reporter};
use crate::tsne::TsneParams;
use anyhow::{anyhow, bail, Result};
use clap::{Args, ValueEnum};
use std::sync::Arc;

/// A bad command line found after clap parsed it (exit status 2, like clap's own errors).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// `Err(UsageError)` with this message, as an `anyhow::Error`.
pub fn usage<T>(message: impl Into<String>) -> anyhow::Result<T> {
    Err(UsageError(message.into()).into())
}

/// Whether `e` is a bad command line (exit status 2) rather than a failure (1).
pub fn is_usage_error(e: &anyhow::Error) -> bool {
    e.downcast_ref::<UsageError>().is_some()
}

/// Options every computing subcommand takes.
#[derive(Args, Debug, Clone)]
pub struct CommonArgs {
    /// Worker threads (default: all cores; at least 1).
    #[arg(long, value_parser = parse_threads)]
    pub threads: Option<usize>,
    /// No progress bars or summaries (warnings are still printed).
    #[arg(long, short)]
    pub quiet: bool,
}

/// `--solver`: how the grid is made.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum SolverArg {
    /// The snap (auto), then sorted so that images with similar features sit in nearby cells
    /// (the default; needs the images' features).
    Sorted,
    /// The snap alone: exact up to 20 000 images, the fast mode above.
    Auto,
    /// Always exact (slow above 20 000).
    Exact,
    /// Near-optimal, for very large sets.
    Fast,
    /// pathfinding's Hungarian (reference; slow, dense).
    Hungarian,
}

impl From<SolverArg> for GridMethod {
    fn from(s: SolverArg) -> Self {
        match s {
            SolverArg::Sorted => GridMethod::default(),
            SolverArg::Auto => GridMethod::snap(Solver::Auto),
            SolverArg::Exact => GridMethod::snap(Solver::Exact),
            SolverArg::Fast => GridMethod::snap(Solver::Fast),
            SolverArg::Hungarian => GridMethod::snap(Solver::Hungarian),
        }
    }
}

/// `--crop`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum CropArg {
    Center,
    Squash,
}

impl From<CropArg> for Crop {
    fn from(c: CropArg) -> Self {
        match c {
            CropArg::Center => Crop::Center,
            CropArg::Squash => Crop::Squash,
        }
    }
}

/// Run `f` on a rayon pool of `threads` workers (default: all cores).
pub fn with_threads<T: Send>(
    threads: Option<usize>,
    f: impl FnOnce() -> Result<T> + Send,
) -> Result<T> {
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(n) = threads {
        // (0 is refused by the value parser)
        builder = builder.num_threads(n.max(1));
    }
    let pool = builder
        .build()
        .map_err(|e| anyhow!("cannot start worker threads: {e}"))?;
    pool.install(f)
}

/// The terminal reporter of a subcommand: progress bars unless `quiet`, warnings always, and
/// Ctrl-C / SIGTERM turned into a cancellation.
pub fn reporter(quiet: bool) -> Arc<CliReporter> {
    let rep = Arc::new(CliReporter::new(quiet));
    rep.install_logger(log::LevelFilter::Warn);
    rep.stop_on_signals();
    rep
}

/// Stop before writing when Ctrl-C / SIGTERM came in during the last step.
pub fn check_cancelled(rep: &CliReporter) -> Result<()> {
    if rep.cancelled() {
        bail!(Cancelled);
    }
    Ok(())
}

/// Warn about paths that JSON cannot hold exactly.
pub fn warn_non_utf8(rep: &CliReporter, entries: &[LayoutEntry]) {
    if let Some(w) = layout_io::non_utf8_warning(entries) {
        rep.warn(&w);
    }
}

/// The t-SNE settings once more (clap's value parsers check each on the command line; the
/// app's settings and a library caller's come through here too).
pub fn validate_tsne(p: &TsneParams) -> Result<()> {
    if let Err(rule) = check_perplexity(p.perplexity) {
        return usage(format!("--perplexity {rule}"));
    }
    if let Err(rule) = check_theta(p.theta) {
        return usage(format!("--theta {rule}"));
    }
    if p.iterations == 0 {
        return usage("--iterations must be at least 1");
    }
    Ok(())
}

/// Grid aspect: `16:9`, `4/3`, `16x9` or `1.5`.
pub fn parse_aspect(s: &str) -> Result<f64, String> {
    let parts: Vec<&str> = s.split([':', '/', 'x']).collect();
    let value = match parts.as_slice() {
        [one] => one.trim().parse::<f64>().map_err(|e| e.to_string())?,
        [w, h] => {
            let w: f64 = w
                .trim()
                .parse()
                .map_err(|_| format!("bad width in {s:?}"))?;
            let h: f64 = h
                .trim()
                .parse()
                .map_err(|_| format!("bad height in {s:?}"))?;
            w / h
        }
        _ => return Err(format!("expected W:H, got {s:?}")),
    };
    if value.is_finite() && value > 0.0 && (1e-3..=1e3).contains(&value) {
        Ok(value)
    } else {
        Err(format!("aspect {s:?} is out of range"))
    }
}

/// `#RRGGBB` or `RRGGBB`.
pub fn parse_color(s: &str) -> Result<[u8; 3], String> {
    crate::render::parse_hex_color(s)
        .ok_or_else(|| format!("expected a colour like #RRGGBB, got {s:?}"))
}

/// A colour kept as written (`#RRGGBB` or `RRGGBB`), checked.
pub fn parse_color_text(s: &str) -> Result<String, String> {
    parse_color(s).map(|_| s.to_string())
}

/// t-SNE perplexity: a positive number (it is clamped for small image counts later).
pub fn parse_perplexity(s: &str) -> Result<f32, String> {
    let v: f32 = s.trim().parse().map_err(|_| PERPLEXITY_RULE.to_string())?;
    check_perplexity(v).map(|_| v)
}

/// Barnes-Hut theta: 0 (exact) to 1.
pub fn parse_theta(s: &str) -> Result<f32, String> {
    let v: f32 = s.trim().parse().map_err(|_| THETA_RULE.to_string())?;
    check_theta(v).map(|_| v)
}

/// Worker threads: at least 1.
pub fn parse_threads(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("must be at least 1".into()),
    }
}

/// t-SNE iterations: at least 1.
pub fn parse_iterations(s: &str) -> Result<usize, String> {
    parse_threads(s)
}

const PERPLEXITY_RULE: &str = "must be a positive number";
const THETA_RULE: &str = "must be between 0 and 1";

/// The rule for `--perplexity` (also for values that do not come from the command line).
pub fn check_perplexity(v: f32) -> Result<(), String> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(PERPLEXITY_RULE.into())
    }
}

/// The rule for `--theta`.
pub fn check_theta(v: f32) -> Result<(), String> {
    if v.is_finite() && (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(THETA_RULE.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aspect_forms() {
        assert_eq!(parse_aspect("16:9").unwrap(), 16.0 / 9.0);
        assert_eq!(parse_aspect("4/3").unwrap(), 4.0 / 3.0);
        assert_eq!(parse_aspect("1.5").unwrap(), 1.5);
        assert!(parse_aspect("0:1").is_err());
        assert!(parse_aspect("a:b").is_err());
        assert!(parse_aspect("1:2:3").is_err());
    }

    #[test]
    fn tsne_and_thread_rules() {
        assert_eq!(parse_perplexity("30").unwrap(), 30.0);
        for bad in ["0", "-1", "NaN", "inf", "x"] {
            assert_eq!(parse_perplexity(bad).unwrap_err(), PERPLEXITY_RULE, "{bad}");
        }
        assert_eq!(parse_theta("0").unwrap(), 0.0);
        assert_eq!(parse_theta("1").unwrap(), 1.0);
        for bad in ["1.5", "-0.1", "NaN", "x"] {
            assert_eq!(parse_theta(bad).unwrap_err(), THETA_RULE, "{bad}");
        }
        assert_eq!(parse_threads("3").unwrap(), 3);
        assert!(parse_threads("0").is_err());
        assert!(parse_color("#10a0ff").is_ok() && parse_color("red").is_err());
    }
}
