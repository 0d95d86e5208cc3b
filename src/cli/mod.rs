//! The command line, one file per subcommand: with no subcommand it opens the live viewer
//! ([`crate::app`]); [`analyze`], [`add`], [`grid`], [`render`], [`clusters`] and [`select`] do every computing or saving
//! action headless. [`args`] holds what they share (options, value checks, the thread pool and
//! the terminal reporter).

pub mod add;
pub mod analyze;
pub mod args;
pub mod clusters;
pub mod grid;
pub mod render;
pub mod select;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "image-tsne-live",
    version,
    about = "Lay out a folder of images by visual similarity and show it live",
    args_conflicts_with_subcommands = true,
    // an option given twice takes its last value: a show file's, then the command line's
    args_override_self = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub app: crate::app::AppArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Analyze a folder of images and write an ml4a layout JSON (t-SNE points in [0,1]).
    Analyze(analyze::AnalyzeArgs),
    /// Add images to a finished layout: they find their place, the old images stay where they are.
    Add(add::AddArgs),
    /// Snap a layout JSON onto a grid and write it with a "grid": [col, row] per entry.
    Grid(grid::GridArgs),
    /// Render a layout JSON to a PNG offscreen (the whole layout, any size).
    Render(render::RenderArgs),
    /// Find the layout's clusters, named from the images, and write `path,cluster,label` CSV.
    Clusters(clusters::ClustersArgs),
    /// Select images of a layout (by cluster, by a metadata filter) and export their paths, copy
    /// their files, or make a new map of them.
    Select(select::SelectArgs),
}

/// Parse the command line, run it, and exit with its status: 0 done, 1 failed, 2 bad usage,
/// 130 / 143 when Ctrl-C / SIGTERM stopped it.
pub fn main() {
    // `--show FILE`: the file's options go in front of the command line's
    let argv = match crate::app::show::expand(std::env::args_os().collect()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    };
    let cli = Cli::parse_from(argv);
    let result = match cli.command {
        Some(Command::Analyze(args)) => {
            args::with_threads(args.common.threads, || analyze::run(&args))
        }
        Some(Command::Add(args)) => args::with_threads(args.common.threads, || add::run(&args)),
        Some(Command::Grid(args)) => args::with_threads(args.common.threads, || grid::run(&args)),
        Some(Command::Render(args)) => render::run(&args),
        Some(Command::Clusters(args)) => {
            args::with_threads(args.common.threads, || clusters::run(&args))
        }
        Some(Command::Select(args)) => {
            args::with_threads(args.common.threads, || select::run(&args))
        }
        None => crate::app::run(cli.app),
    };
    if let Err(e) = result {
        if crate::pipeline::is_cancelled(&e) {
            eprintln!("cancelled");
            // 130 for Ctrl-C, 143 for SIGTERM (the shell's convention)
            std::process::exit(crate::util::signals::received().unwrap_or(130));
        }
        eprintln!("error: {e:#}");
        // a bad command line found after parsing exits like clap's own usage errors
        std::process::exit(if args::is_usage_error(&e) { 2 } else { 1 });
    }
    if let Some(status) = crate::util::signals::received() {
        // the signal came after the last cancellable step: the output is complete
        eprintln!("interrupted after the output was written");
        std::process::exit(status);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let cli =
            Cli::try_parse_from(["x", "analyze", "dir", "-o", "o.json", "--max-images", "10"])
                .unwrap();
        assert!(
            matches!(cli.command, Some(Command::Analyze(ref a)) if a.max_images == 10 && a.perplexity == 50.0 && a.theta == 0.3)
        );
        // the same rules for the app and every subcommand, at parsing
        for bad in [
            &["x", "--perplexity", "0"][..],
            &["x", "--theta", "1.5"],
            &["x", "analyze", "d", "-o", "o", "--perplexity", "-3"],
            &["x", "analyze", "d", "-o", "o", "--threads", "0"],
            &["x", "render", "l.json", "-o", "o.png", "--threads", "0"],
            &["x", "render", "l.json", "-o", "o.png", "--aspect", "0:1"],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
        let cli = Cli::try_parse_from(["x", "render", "l.json", "-o", "o.png", "--aspect", "16:9"])
            .unwrap();
        assert!(
            matches!(cli.command, Some(Command::Render(ref r)) if (r.aspect - 16.0 / 9.0).abs() < 1e-12)
        );
    }
}
