//! Ctrl-C and SIGTERM stop the command line cleanly: the run ends with 130 / 143, no output
//! and no temporary file is left behind.

mod common;

use common::{shared_dir, signal, wait_for};
use std::process::{Command, Stdio};
use std::time::Duration;

fn interrupted_analysis(sig: &str, want: i32) {
    let emoji = shared_dir().join("datasets/emoji-google");
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("layout.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_image-tsne-live"))
        .arg("analyze")
        .arg(&emoji)
        .arg("-o")
        .arg(&out)
        .args(["--max-images", "3000", "--no-cache", "--quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start analyze");
    // 3000 images take a minute of CNN time here: the signal lands in the middle of it
    std::thread::sleep(Duration::from_secs(4));
    signal(&child, sig);
    let status = wait_for(&mut child, Duration::from_secs(120));
    let stderr = String::from_utf8_lossy(&child.wait_with_output().unwrap().stderr).to_string();
    assert_eq!(status.code(), Some(want), "{stderr}");
    assert!(stderr.contains("cancelled"), "{stderr}");
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
