//! Ctrl-C and SIGTERM stop the command line cleanly: the run ends with 130 / 143, no output
//! and no temporary file is left behind.

mod common;

use common::{signal, wait_for};
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Images in the interrupted run: the CNN needs seconds for them even on many cores (about
/// 20 ms per image per core here), while the signal is sent microseconds after the scan's line.
const IMAGES: usize = 1500;

fn interrupted_analysis(sig: &str, want: i32) {
    let tmp = tempfile::tempdir().unwrap();
    let pics = tmp.path().join("pics");
    common::demo_variants(&pics, IMAGES);
    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("layout.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_image-tsne-live"))
        .arg("analyze")
        .arg(&pics)
        .arg("-o")
        .arg(&out)
        .args(["--max-images", &IMAGES.to_string(), "--no-cache"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start analyze");
    // The first progress line is the scan's summary: the analysis has started and the CNN
    // stage is next. The signal goes now, not after a guessed sleep.
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut first = String::new();
    stderr.read_line(&mut first).expect("read stderr");
    assert!(
        first.contains("scan") && first.contains(&format!("{IMAGES} images found")),
        "first line: {first:?}"
    );
    signal(&child, sig);
    // read the rest on a thread: the child may block on a full pipe otherwise
    let rest = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let status = wait_for(&mut child, Duration::from_secs(120));
    let stderr = first + &rest.join().expect("stderr reader");
    assert_eq!(status.code(), Some(want), "{stderr}");
    assert!(stderr.contains("cancelled"), "{stderr}");
    // it stopped in the middle: no later stage finished
    for later in ["t-SNE", "grid", "save"] {
        assert!(
            !stderr.lines().any(|l| l.trim_start().starts_with(later)),
            "{later} ran: {stderr}"
        );
    }
    let left: Vec<_> = std::fs::read_dir(&out_dir).unwrap().collect();
    assert!(
        left.is_empty(),
        "nothing is written, no temporary file: {left:?}"
    );
}

#[test]
fn ctrl_c_stops_analyze_with_130_and_leaves_no_file() {
    interrupted_analysis("INT", 130);
}

#[test]
fn sigterm_stops_analyze_with_143_and_leaves_no_file() {
    interrupted_analysis("TERM", 143);
}
