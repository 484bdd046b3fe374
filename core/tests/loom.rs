//! The latest-estimate cell under every interleaving loom explores: a
//! reader sees nothing, the first value or the second, never a mix.
//!
//! `RUSTFLAGS="--cfg loom" cargo test -p fiatline-core --test loom --release`
#![cfg(loom)]

use fiatline_core::cell::{SeqCell, Words};
use loom::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq)]
struct Pair(u32, u32);

impl Words<2> for Pair {
    fn to_words(&self) -> [u32; 2] {
        [self.0, self.1]
    }
    fn from_words(w: [u32; 2]) -> Self {
        Pair(w[0], w[1])
    }
}

#[test]
fn readers_never_see_a_torn_value() {
    loom::model(|| {
        let cell = Arc::new(SeqCell::<2>::new());
        let writer_cell = cell.clone();
        let writer = loom::thread::spawn(move || {
            let mut w = writer_cell.writer().expect("the only writer");
            w.publish(&Pair(1, 1));
            w.publish(&Pair(2, 2));
        });
        let reader_cell = cell.clone();
        let reader = loom::thread::spawn(move || {
            let first: Option<Pair> = reader_cell.try_read();
            let second: Option<Pair> = reader_cell.try_read();
            for seen in [first, second].into_iter().flatten() {
                assert!(seen == Pair(1, 1) || seen == Pair(2, 2), "torn: {seen:?}");
            }
            // Values never go backwards for one reader.
            if let (Some(a), Some(b)) = (first, second) {
                assert!(b.0 >= a.0);
            }
        });
        writer.join().unwrap();
        reader.join().unwrap();
        assert_eq!(cell.read::<Pair>(), Some(Pair(2, 2)));
    });
}

#[test]
fn only_one_writer() {
    loom::model(|| {
        let cell = Arc::new(SeqCell::<1>::new());
        let other = cell.clone();
        let t = loom::thread::spawn(move || other.writer().is_some());
        let here = cell.writer().is_some();
        let there = t.join().unwrap();
        assert!(here ^ there);
    });
}
