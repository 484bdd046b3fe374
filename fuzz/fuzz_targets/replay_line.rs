#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| fiatline_fuzz::check_replay_line(data));
