//! `cargo +nightly fuzz run incydr_answers`: see `riskflow::fuzzing::incydr_answers` for the input's shape and
//! the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| riskflow::fuzzing::incydr_answers(data));
