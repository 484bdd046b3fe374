//! Replays every committed corpus file through its target's check, on
//! stable, so `cargo test` guards what the fuzzer found.

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus folder") {
        let path = entry.unwrap().path();
        check(&std::fs::read(&path).unwrap());
        n += 1;
    }
    assert!(n > 0, "no corpus in {}", dir.display());
}

#[test]
fn tx_corpus() {
    replay("tx", fiatline_fuzz::check_tx);
}

#[test]
fn block_corpus() {
    replay("block", fiatline_fuzz::check_block);
}

#[test]
fn estimate_corpus() {
    replay("estimate", fiatline_fuzz::check_estimate);
}

#[test]
fn window_corpus() {
    replay("window", fiatline_fuzz::check_window);
}

#[test]
fn replay_line_corpus() {
    replay("replay_line", fiatline_fuzz::check_replay_line);
}

#[test]
fn zmq_message_corpus() {
    replay("zmq_message", fiatline_fuzz::check_zmq_message);
}
