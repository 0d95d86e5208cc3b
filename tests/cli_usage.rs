//! Usage errors: the app and every subcommand refuse the same bad values with the same words,
//! before anything starts, with exit status 2 (as the README says); and the values one command
//! accepts (`--aspect 16:9`) the others accept too. No window, GPU or data needed.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_image-tsne-live"))
        .args(args)
        // the app must refuse before it looks for a display
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("run the binary")
}

#[track_caller]
fn refused(args: &[&str], words: &str) {
    let o = run(args);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(words), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
}

#[test]
fn bad_values_are_usage_errors_with_the_same_words_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();
    let out = tmp.path().join("o.json");
    let out = out.to_str().unwrap();
    // t-SNE settings: the app checks them as the CLI does, before an analysis starts
    for cmd in [&[][..], &["analyze", dir, "-o", out]] {
        let with = |extra: &[&'static str]| -> Vec<&str> { [cmd, extra].concat() };
        refused(&with(&["--perplexity", "0"]), "must be a positive number");
        refused(&with(&["--perplexity=-5"]), "must be a positive number");
        refused(&with(&["--theta", "1.5"]), "must be between 0 and 1");
        refused(&with(&["--theta", "nan"]), "must be between 0 and 1");
    }
    // --threads 0: refused by every command that takes it (render made it 1)
    refused(&["analyze", dir, "-o", out, "--threads", "0"], "at least 1");
    refused(&["grid", out, "-o", out, "--threads", "0"], "at least 1");
    refused(
        &["render", out, "-o", "x.png", "--threads", "0"],
        "at least 1",
    );
    // other values refused after clap parsed them: exit 2 too (they were 1)
    refused(
        &["render", out, "-o", "x.png", "--image-size", "3"],
        "--image-size must be between 0 and 2",
    );
    refused(&["--size", "10x10"], "out of range");
    refused(&["--settle-seconds", "9999"], "--settle-seconds");
    refused(
        &["render", out, "-o", "x.png", "--background", "red"],
        "#RRGGBB",
    );
    refused(&["--background", "red"], "#RRGGBB");
}

#[test]
fn render_takes_the_aspect_forms_the_other_commands_take() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("missing.json");
    let missing = missing.to_str().unwrap();
    for aspect in ["16:9", "4/3", "1.5"] {
        // parsed: the run gets as far as opening the (missing) layout, an error (1), not usage
        let o = run(&["render", missing, "-o", "x.png", "--aspect", aspect]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "--aspect {aspect}: {stderr}");
        assert!(stderr.contains("missing.json"), "{stderr}");
    }
    refused(
        &["render", missing, "-o", "x.png", "--aspect", "0:1"],
        "out of range",
    );
}

#[test]
fn every_background_option_says_what_it_colours() {
    let help = |args: &[&str]| String::from_utf8_lossy(&run(args).stdout).into_owned();
    let analyze = help(&["analyze", "--help"]);
    assert!(
        analyze.contains("transparent pixels") && analyze.contains("CNN"),
        "{analyze}"
    );
    let render = help(&["render", "--help"]);
    assert!(render.contains("behind the images"), "{render}");
    let app = help(&["--help"]);
    assert!(app.contains("behind the images"), "{app}");
    for text in [&render, &app] {
        assert!(text.contains("analyze --background"), "{text}");
    }
}

/// A show file with a bad key or value is a usage error naming the file, the key and its
/// line; the app's own checks run on its values (a missing folder), and OSC addresses are
/// checked before a window opens.
#[test]
fn show_files_and_osc_addresses_are_checked_before_anything_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let show = tmp.path().join("show.toml");
    let show_s = show.to_str().unwrap();
    std::fs::write(&show, "gallery = true\nperplexty = 30\n").unwrap();
    refused(&["--show", show_s], "line 2: `perplexty`: no such option");
    std::fs::write(&show, "gallery = true\n\ntheta = 7\n").unwrap();
    refused(&["--show", show_s], "line 3: `theta`");
    refused(
        &["--show", "/nowhere/show.toml"],
        "cannot read /nowhere/show.toml",
    );
    // a valid file whose folder is missing: the app's check names it, relative to the file
    std::fs::write(&show, "path = \"photos\"\n").unwrap();
    let o = run(&["--show", show_s]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("{}/photos does not exist", tmp.path().display())),
        "{stderr}"
    );
    refused(&["--osc-in", "nine"], "--osc-in nine");
    refused(&["--osc-out", "nohost"], "--osc-out nohost");
}
