//! Replays every saved fuzz input (tests/fuzz/corpus: inputs that reach new code; tests/fuzz/artifacts:
//! inputs that once crashed, hung or over-allocated) through the same code the fuzz targets run, so a
//! reader change that breaks on any of them fails the normal test suite. docs/RELIABILITY.md says
//! how the inputs were found and how to fuzz further.

#[path = "fuzz/harness.rs"]
mod harness;

use std::path::Path;

#[test]
fn every_saved_fuzz_input_is_refused_or_read_without_a_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz");
    for (target, run) in harness::TARGETS {
        let mut replayed = 0;
        for folder in ["corpus", "artifacts"] {
            let Ok(entries) = std::fs::read_dir(root.join(folder).join(target)) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                let input = std::fs::read(&path).unwrap();
                let outcome = std::panic::catch_unwind(|| run(&input));
                assert!(outcome.is_ok(), "{target}: {} panicked", path.display());
                replayed += 1;
            }
        }
        // Every target has seeds; none at all means the folders moved and nothing is replayed.
        assert!(replayed > 0, "no saved inputs for fuzz target {target}");
        eprintln!("{target}: {replayed} inputs replayed");
    }
}
