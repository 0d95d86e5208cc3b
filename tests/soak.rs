//! The soak test's 2-minute version (the 30-minute one is `examples/soak.rs`): the real app in
//! gallery mode on 2 000 images under Xvfb, started from a show file, with a mirror as a second
//! output, frame captures of both and stats, driven over OSC all along (commands and bad
//! packets; heartbeats collected). Asserted: it stops on
//! SIGTERM with 143 and no panic, memory does not creep after the warm-up, every capture is a
//! valid PNG and as many were written as the run's length asks. Frame times are printed, not
//! asserted (timings are noisy on a shared CI machine).

mod common;

use common::soak::{run_soak, SoakConfig};
use std::time::Duration;

#[test]
fn two_minutes_of_gallery_mode_on_2000_images() {
    let (display, _xvfb) = common::display();
    let tmp = tempfile::tempdir().unwrap();
    // 2 000 distinct pictures from the 360 demo emoji (mirrored and rotated copies)
    let dataset = tmp.path().join("emoji");
    common::demo_variants(&dataset, 2000);
    // The CNN features are computed first, into the cache the app then uses (`<work>/cache`):
    // the two minutes are then spent in gallery mode, as on an installation that restarts,
    // and not on the CNN, whose speed depends on how busy the machine is.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_image-tsne-live"))
        .arg("analyze")
        .arg(&dataset)
        .arg("-o")
        .arg(tmp.path().join("warm.json"))
        .args(["--max-images", "2000", "--quiet", "--cache-dir"])
        .arg(tmp.path().join("cache"))
        .output()
        .expect("run analyze");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cfg = SoakConfig {
        app: env!("CARGO_BIN_EXE_image-tsne-live").into(),
        dataset,
        images: 2000,
        duration: Duration::from_secs(120),
        warmup: 20.0,
        size: "1280x720".into(),
        work: tmp.path().to_path_buf(),
        display,
    };
    let report = run_soak(&cfg);
    println!("{}", report.table());
    let verdicts = report.verdicts();
    for (what, passed, detail) in &verdicts {
        println!("{} {what}: {detail}", if *passed { "PASS" } else { "FAIL" });
    }
    let tail = &report.stderr_tail;
    assert_eq!(report.exit_code, Some(143), "{tail}");
    assert!(!report.panicked, "{tail}");
    assert!(
        report.warm_from.is_some(),
        "the analysis did not finish with time to spare:\n{}\n{tail}",
        report.table()
    );
    let growth = report.rss_growth_percent().unwrap_or(f64::NAN);
    assert!(
        growth < 2.0,
        "RSS grew {growth:.2} % after the warm-up\n{}",
        report.table()
    );
    assert!(
        report.heartbeats >= 30,
        "{} OSC heartbeats in two minutes ({} packets sent)\n{tail}",
        report.heartbeats,
        report.osc_sent
    );
    assert!(
        report.captures_ok(),
        "captures: {} valid of {} written, {} expected over {:.0} s of {:.0} s",
        report.valid_captures,
        report.captures,
        report.expected_captures,
        report.capture_span,
        report.ran
    );
}
