//! Show file: `image-tsne-live --show show.toml` reads the app's options from a TOML file, so
//! an installation's setup lives in one file beside it (see `examples/show.toml`, which lists
//! every key). A key is an option's long name (`max_images` or `max-images`); a flag takes
//! `true`/`false`; an option given twice on the command line takes several values as an array
//! (`capture_every = [5, "frames"]`). Paths are relative to the show file's folder.
//! Options on the command line override the file.
//!
//! The file is turned into command-line arguments placed before the real ones, so clap checks
//! every value exactly as it checks a typed option; a bad key or value is an error that names
//! the key and its line.

use anyhow::{anyhow, bail, Context, Result};
use clap::CommandFactory;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Options whose values are paths (made relative to the show file's folder).
const PATH_KEYS: &[&str] = &[
    "path",
    "autosave",
    "screenshot-dir",
    "model",
    "stats",
    "heartbeat",
    "capture-on-quit",
    "capture-every",
    "cache-dir",
];

/// Options a show file cannot set (they only make sense typed, or name the file itself).
const NOT_IN_SHOW: &[&str] = &["show", "help", "version"];

/// `argv` with the options of its `--show FILE` (if any) put in front of the command line's
/// own (so those override the file).
pub fn expand(argv: Vec<OsString>) -> Result<Vec<OsString>> {
    let mut show = None;
    let mut it = argv.iter().skip(1);
    while let Some(a) = it.next() {
        if a == "--" {
            break;
        }
        if a == "--show" {
            show = it.next().map(PathBuf::from);
        } else if let Some(v) = a.to_str().and_then(|s| s.strip_prefix("--show=")) {
            show = Some(PathBuf::from(v));
        }
    }
    let Some(file) = show else {
        return Ok(argv);
    };
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("--show: cannot read {}", file.display()))?;
    let base = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let from_file = show_args(&text, base).map_err(|e| anyhow!("{}: {e}", file.display()))?;
    let mut out = Vec::with_capacity(argv.len() + from_file.len());
    out.extend(argv.first().cloned());
    out.extend(from_file);
    out.extend(argv.into_iter().skip(1));
    Ok(out)
}

/// Line (1-based) of `key`'s first assignment in `section` (`None`: before any section
/// header), for messages; 0 when not found.
fn line_of(text: &str, section: Option<&str>, key: &str) -> usize {
    let mut current: Option<String> = None;
    for (i, l) in text.lines().enumerate() {
        let l = l.trim_start();
        if let Some(h) = l.strip_prefix('[') {
            current = h.split(']').next().map(|h| h.trim().to_string());
            continue;
        }
        let here = current.as_deref() == section;
        if here
            && l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        {
            return i + 1;
        }
    }
    0
}

/// The command-line arguments a show file stands for.
pub fn show_args(text: &str, base: &Path) -> Result<Vec<OsString>> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| anyhow!("{e}"))?;
    let cmd = crate::cli::Cli::command();
    let mut out: Vec<OsString> = vec![];
    // `[section]` `key` is the option `--section-key` (e.g. `[schedule]` `hours`)
    let mut entries: Vec<(Option<&str>, &str, &toml::Value)> = vec![];
    for (key, value) in &table {
        let prefix = format!("{}-", key.replace('_', "-"));
        match value {
            toml::Value::Table(t)
                if cmd
                    .get_arguments()
                    .any(|a| a.get_long().is_some_and(|l| l.starts_with(&prefix))) =>
            {
                entries.extend(t.iter().map(|(k, v)| (Some(key.as_str()), k.as_str(), v)));
            }
            _ => entries.push((None, key.as_str(), value)),
        }
    }
    for (section, key, value) in entries {
        let line = line_of(text, section, key);
        let shown = match section {
            Some(sec) => format!("[{sec}] {key}"),
            None => key.to_string(),
        };
        let at = |msg: String| anyhow!("line {line}: `{shown}`: {msg}");
        let name = match section {
            Some(sec) => format!("{sec}-{key}"),
            None => key.to_string(),
        }
        .replace('_', "-");
        if NOT_IN_SHOW.contains(&name.as_str()) {
            return Err(at("cannot be set in a show file".into()));
        }
        let arg = cmd
            .get_arguments()
            .find(|a| {
                a.get_long() == Some(name.as_str()) || (name == "path" && a.get_id() == "path")
            })
            .ok_or_else(|| {
                if value.is_table() {
                    at("no such section".into())
                } else {
                    at("no such option (the keys are the app's long options: see examples/show.toml)".into())
                }
            })?;
        let positional = arg.get_long().is_none();
        let flag = matches!(
            arg.get_action(),
            clap::ArgAction::SetTrue | clap::ArgAction::SetFalse
        );
        let is_path = PATH_KEYS.contains(&name.as_str());
        let text_of = |v: &toml::Value| -> Result<OsString> {
            let s = match v {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => return Err(at(format!("{other} is not a single value"))),
            };
            // `capture_every = [SECONDS, DIR]`: only its folder is a path
            let path_like = is_path && !(name == "capture-every" && s.parse::<f64>().is_ok());
            Ok(if path_like && Path::new(&s).is_relative() {
                base.join(&s).into_os_string()
            } else {
                OsString::from(s)
            })
        };
        let mut tokens: Vec<OsString> = vec![];
        if flag {
            match value {
                toml::Value::Boolean(true) => tokens.push(format!("--{name}").into()),
                toml::Value::Boolean(false) => {}
                other => return Err(at(format!("takes true or false, not {other}"))),
            }
        } else {
            let values: Vec<&toml::Value> = match value {
                toml::Value::Array(a) => a.iter().collect(),
                v => vec![v],
            };
            let together = arg.get_num_args().is_some_and(|r| r.min_values() > 1);
            if together || positional {
                if !positional {
                    tokens.push(format!("--{name}").into());
                }
                for v in values {
                    tokens.push(text_of(v)?);
                }
            } else {
                for v in values {
                    tokens.push(format!("--{name}").into());
                    tokens.push(text_of(v)?);
                }
            }
        }
        // clap checks the value as it would on the command line
        let mut probe: Vec<OsString> = vec!["image-tsne-live".into()];
        probe.extend(tokens.iter().cloned());
        if let Err(e) = <crate::cli::Cli as clap::Parser>::try_parse_from(probe) {
            let msg = e.to_string();
            let first = msg
                .lines()
                .next()
                .unwrap_or("invalid value")
                .trim_start_matches("error: ")
                .to_string();
            return Err(at(first));
        }
        out.extend(tokens);
    }
    if out.is_empty() && !table.is_empty() {
        bail!("sets nothing");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: Vec<OsString>) -> Vec<String> {
        v.into_iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn keys_become_options_and_the_command_line_overrides() {
        let text = r##"
# a gallery wall
path = "photos"
fullscreen = true
hide_gui = false
gallery = true
toggle-every = 20
perplexity = 30.5
background = "#000000"
capture_every = [5, "frames"]
osc_in = "0.0.0.0:9000"
"##;
        let args = strings(show_args(text, Path::new("/show")).expect("valid"));
        // (keys in the file's table order: alphabetical)
        assert_eq!(
            args,
            [
                "--background",
                "#000000",
                "--capture-every",
                "5",
                "/show/frames",
                "--fullscreen",
                "--gallery",
                "--osc-in",
                "0.0.0.0:9000",
                "/show/photos",
                "--perplexity",
                "30.5",
                "--toggle-every",
                "20"
            ]
        );
        let mut argv = vec![OsString::from("image-tsne-live")];
        argv.extend(args.iter().map(OsString::from));
        let cli = <crate::cli::Cli as clap::Parser>::try_parse_from(argv).expect("parse");
        assert!(cli.app.fullscreen && cli.app.gallery && !cli.app.hide_gui);
        assert_eq!(cli.app.path, Some(PathBuf::from("/show/photos")));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("show.toml");
        std::fs::write(&file, "max_images = 300\nperplexity = 20\n").unwrap();
        let argv: Vec<OsString> = [
            "image-tsne-live",
            "--show",
            file.to_str().unwrap(),
            "--perplexity",
            "40",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        let expanded = expand(argv).expect("expand");
        let cli = <crate::cli::Cli as clap::Parser>::try_parse_from(expanded).expect("parse");
        assert_eq!(cli.app.max_images, 300);
        assert_eq!(cli.app.perplexity, 40.0, "the command line wins");
    }

    /// The example show file is valid, and names every option a show file can set (set or
    /// commented out with its default), so it documents them all.
    #[test]
    fn the_example_show_file_is_valid_and_complete() {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/show.toml");
        let text = std::fs::read_to_string(&file).expect("examples/show.toml");
        let args = show_args(&text, Path::new("/show")).expect("valid");
        let mut argv = vec![OsString::from("image-tsne-live")];
        argv.extend(args);
        <crate::cli::Cli as clap::Parser>::try_parse_from(argv).expect("parses");
        let mut section = String::new();
        let mut keys: Vec<String> = vec![];
        for l in text.lines().map(|l| l.trim_start_matches(['#', ' '])) {
            if let Some(h) = l.strip_prefix('[') {
                section = format!("{}-", h.trim_end_matches(']'));
            } else if let Some((k, _)) = l.split_once('=') {
                keys.push(format!("{section}{}", k.trim().replace('_', "-")));
            }
        }
        let cmd = crate::cli::Cli::command();
        for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
            let name = arg.get_long().map_or("path".to_string(), str::to_string);
            if NOT_IN_SHOW.contains(&name.as_str()) {
                continue;
            }
            assert!(
                keys.contains(&name),
                "examples/show.toml does not document `{name}`"
            );
        }
    }

    #[test]
    fn bad_keys_and_values_name_the_key_and_line() {
        let err = |text: &str| show_args(text, Path::new(".")).unwrap_err().to_string();
        let e = err("gallery = true\nperplexty = 30\n");
        assert!(
            e.contains("line 2") && e.contains("perplexty") && e.contains("no such option"),
            "{e}"
        );
        let e = err("fullscreen = 1\n");
        assert!(e.contains("line 1") && e.contains("true or false"), "{e}");
        let e = err("\n\ntheta = 3.0\n");
        assert!(e.contains("line 3") && e.contains("theta"), "{e}");
        let e = err("perplexity = \"lots\"\n");
        assert!(e.contains("line 1") && e.contains("perplexity"), "{e}");
        let e = err("[schedul]\nopen = \"10:00\"\n");
        assert!(
            e.contains("schedul") && e.contains("no such section"),
            "{e}"
        );
        let e = err("gallery = true\n[schedule]\nhours = \"10:00-18:00\"\nweekdays = \"mon\"\n");
        assert!(
            e.contains("line 4: `[schedule] weekdays`: no such option"),
            "{e}"
        );
        let ok = strings(
            show_args(
                "gallery = true\n[schedule]\nhours = \"10:00-18:00\"\ndays = \"mon-fri\"\n",
                Path::new("."),
            )
            .unwrap(),
        );
        assert_eq!(
            ok,
            [
                "--gallery",
                "--schedule-days",
                "mon-fri",
                "--schedule-hours",
                "10:00-18:00"
            ]
        );
        let e = err("show = \"other.toml\"\n");
        assert!(e.contains("cannot be set"), "{e}");
        let e = err("gallery = \n");
        assert!(e.contains("line 1"), "a syntax error says where: {e}");
    }
}
