//! The fuzz targets' seed corpus (`fuzz/corpus/<target>/`), replayed on stable Rust through the
//! same entry points the libFuzzer targets call (`riskflow::fuzzing`): every seed passes every
//! property, on any machine, nightly toolchain or not. `make fuzz` and the smoke in `make test`
//! fuzz from these seeds; a crash found there is fixed and its input added here.

use std::path::PathBuf;

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

#[test]
fn every_target_has_a_fuzz_target_file_and_a_seed_corpus() {
    let targets = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/fuzz_targets");
    for (name, _) in riskflow::fuzzing::TARGETS {
        let source = targets.join(format!("{name}.rs"));
        let text = std::fs::read_to_string(&source)
            .unwrap_or_else(|e| panic!("{}: {e}", source.display()));
        assert!(
            text.contains(&format!("riskflow::fuzzing::{name}(")),
            "{} does not call riskflow::fuzzing::{name}",
            source.display()
        );
        let seeds = std::fs::read_dir(corpus_dir(name))
            .unwrap_or_else(|e| panic!("fuzz/corpus/{name}: {e}"))
            .count();
        assert!(seeds >= 3, "fuzz/corpus/{name} has {seeds} seeds");
    }
    let files = std::fs::read_dir(&targets).unwrap().count();
    assert_eq!(
        files,
        riskflow::fuzzing::TARGETS.len(),
        "fuzz/fuzz_targets/ holds a target riskflow::fuzzing::TARGETS does not list"
    );
}

#[test]
fn every_seed_passes_its_target() {
    let mut replayed = 0;
    for (name, target) in riskflow::fuzzing::TARGETS {
        let mut seeds: Vec<PathBuf> = std::fs::read_dir(corpus_dir(name))
            .unwrap_or_else(|e| panic!("fuzz/corpus/{name}: {e}"))
            .map(|e| e.unwrap().path())
            .collect();
        seeds.sort();
        for seed in seeds {
            let data = std::fs::read(&seed).unwrap();
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(
                outcome.is_ok(),
                "{name}: {} fails (replay it with `cargo +nightly fuzz run {name} {}`)",
                seed.display(),
                seed.display()
            );
            replayed += 1;
        }
    }
    println!("replayed {replayed} seeds");
}
