//! Writes a day of full-size blocks (144 copies of block 702861, 199 MB) as
//! Core's blk files, with light blocks for the 12 hours before and the 2.7 hours
//! after, for timing `fiatline price --date 2024-01-02 --source blk` by hand:
//! `FIATLINE_DAY_DIR=/tmp/day cargo test -p fiatline-adapters --test blk_day -- --ignored`

#[test]
#[ignore = "writes 200 MB; run by hand to time a day from blk files"]
fn write_a_day_of_blk_files() {
    let dir = std::env::var("FIATLINE_DAY_DIR").expect("set FIATLINE_DAY_DIR");
    let midnight = 1_704_153_600; // 2024-01-02 00:00 UTC
    let times = (0..232).map(|i| midnight - 43_200 + i * 600 + 60).collect();
    let full = 72..216;
    let chain = fiatline_testkit::Chain::generate_with(840_000, times, |i| {
        if full.contains(&i) {
            usize::MAX
        } else {
            50
        }
    });
    let order: Vec<usize> = (0..232).collect();
    // Core fills blk files up to 128 MiB: about 90 of these blocks each.
    fiatline_testkit::blk::write_blocks_dir(
        std::path::Path::new(&dir),
        &chain,
        &order,
        90,
        Some([0x5a, 1, 2, 3, 4, 5, 6, 7]),
    );
}
