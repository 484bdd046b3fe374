//! The answer of `GET /api/v1/history?resolution=block`, JSON or CSV: a
//! year is ~53,000 rows (~9 MB of JSON), and the answer that must stay
//! fast. Long ranges are walked in two halves at once, each on its own
//! read connection, and the halves are joined only when both saw the
//! same rows (else the second half is walked again in the first's
//! snapshot).

use std::thread;

use crate::history::block_text::Format;
use crate::history::readers::Readers;
use crate::history::store::{Store, StoreError};

/// Ranges of fewer heights are walked by one thread: starting a second
/// costs more than it saves (about two months of blocks).
const SPLIT_FROM: u32 = 8_192;

/// Bytes reserved for a row: more than a row takes (~175-200 bytes of
/// JSON), so the answer is not moved as it grows; pages never written
/// are never touched.
const ROW_BYTES: usize = 256;

/// The answer for the block rows whose time lies from `from` to `to`
/// (Unix seconds), in height order, all of them as one snapshot of the
/// file had them, written as `format` writes them.
///
/// # Errors
/// Returns SQLite's error, or a row whose hash is not text.
pub(crate) fn blocks_answer(
    readers: &Readers,
    format: Format,
    from: i64,
    to: i64,
) -> Result<Vec<u8>, StoreError> {
    blocks_answer_with(readers, format, from, to, || {})
}

/// [`blocks_answer`], calling `before_upper` once the first half's
/// snapshot is taken and before the second half's is (tests write there).
fn blocks_answer_with(
    readers: &Readers,
    format: Format,
    from: i64,
    to: i64,
    before_upper: impl FnOnce() + Send,
) -> Result<Vec<u8>, StoreError> {
    let open = format.open();
    readers.read(|lower| {
        lower.in_snapshot(|lower| {
            let Some((first, last)) = lower.block_span(from, to)? else {
                return Ok([open, format.close()].concat());
            };
            let mut out = reserve(first, last, open.len() + format.close().len());
            out.extend_from_slice(open);
            if last - first < SPLIT_FROM {
                rows(lower, format, (first, last), (from, to), false, &mut out)?;
                out.extend_from_slice(format.close());
                return Ok(out);
            }
            let written = lower.blocks_written()?;
            let middle = first + (last - first) / 2;
            let upper_heights = (middle + 1, last);
            let upper = thread::scope(|s| {
                let upper = s.spawn(|| {
                    before_upper();
                    readers.read(|upper| {
                        upper.in_snapshot(|upper| {
                            if upper.blocks_written()? != written {
                                return Ok(None);
                            }
                            let mut out = reserve(upper_heights.0, upper_heights.1, 0);
                            rows(upper, format, upper_heights, (from, to), true, &mut out)?;
                            Ok(Some(out))
                        })
                    })
                });
                let lower_rows = rows(lower, format, (first, middle), (from, to), false, &mut out);
                // A panic of the second half's thread is not expected;
                // the first's snapshot walks it again then.
                let upper = upper.join().unwrap_or(Ok(None));
                lower_rows.and(upper)
            })?;
            let upper = if let Some(upper) = upper {
                upper
            } else {
                // The rows changed between the two snapshots: the second
                // half comes from the first's.
                let mut again = Vec::new();
                rows(lower, format, upper_heights, (from, to), true, &mut again)?;
                again
            };
            // Each row of the second half went in after a separator, and
            // the first half holds a row before them: `first`, the lowest
            // height whose time is in the range, in the same snapshot.
            out.extend_from_slice(&upper);
            out.extend_from_slice(format.close());
            Ok(out)
        })
    })
}

/// An empty buffer with room for the rows from `first` to `last` and
/// `more` bytes.
fn reserve(first: u32, last: u32, more: usize) -> Vec<u8> {
    let heights = usize::try_from(last - first).unwrap_or(0).saturating_add(1);
    Vec::with_capacity(heights.saturating_mul(ROW_BYTES).saturating_add(more))
}

/// Appends the rows of `heights` whose time lies from `from` to `to`, a
/// separator between two, and before the first with `separate_first`.
fn rows(
    store: &Store,
    format: Format,
    heights: (u32, u32),
    (from, to): (i64, i64),
    separate_first: bool,
    out: &mut Vec<u8>,
) -> Result<(), StoreError> {
    let mut separate = separate_first;
    store.each_block_of(heights, from, to, |row| {
        if separate {
            out.extend_from_slice(format.separator());
        }
        separate = true;
        format.write(out, row);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::history::store::BlockRow;
    use fiatline_adapters::Network;
    use std::sync::Mutex;

    /// Rows from height 100, ten minutes apart, but every 97th a block
    /// whose time lies two hours before its parent's (as miners may
    /// date them), and the prices all different.
    fn chain(n: u32) -> Vec<BlockRow> {
        (0..n)
            .map(|i| {
                let back = if i % 97 == 50 { 7_200 } else { 0 };
                BlockRow {
                    height: 100 + i,
                    hash: format!("{:064x}", u64::from(i) * 0x9e37_79b9),
                    time: 1_704_067_200 + i64::from(i) * 600 - back,
                    price: 42_000.0 + f64::from(i) / 7.0,
                    rough: 42_000 + i % 1_000,
                    confidence: 1.0 / f64::from(i + 3),
                    outputs: i64::from(i) * 11,
                }
            })
            .collect()
    }

    /// What serde writes for the rows `st.blocks` reads.
    fn serde_answer(st: &Store, from: i64, to: i64) -> String {
        #[derive(serde::Serialize)]
        struct Answer {
            blocks: Vec<BlockRow>,
        }
        let blocks = st.blocks(from, to).expect("rows");
        serde_json::to_string(&Answer { blocks }).expect("JSON")
    }

    /// The CSV of the rows `st.blocks` reads, written one by one.
    fn csv_answer(st: &Store, from: i64, to: i64) -> String {
        let blocks = st.blocks(from, to).expect("rows");
        String::from_utf8(Format::Csv.all(&blocks)).expect("UTF-8")
    }

    fn answer(readers: &Readers, from: i64, to: i64) -> String {
        answer_as(readers, Format::Json, from, to)
    }

    fn answer_as(readers: &Readers, format: Format, from: i64, to: i64) -> String {
        let answer = blocks_answer(readers, format, from, to).expect("an answer");
        String::from_utf8(answer).expect("UTF-8")
    }

    #[test]
    fn the_answer_is_the_rows_as_serde_writes_them_short_or_long() {
        let dir = fiatline_testkit::tempdir("blocks-answer");
        let path = dir.path().join("h.sqlite");
        let mut writer = Store::open(&path, Network::Main).expect("a history");
        let readers = Readers::new(&path);
        assert_eq!(answer(&readers, i64::MIN, i64::MAX), r#"{"blocks":[]}"#);
        assert_eq!(
            answer_as(&readers, Format::Csv, i64::MIN, i64::MAX),
            "height,hash,time,price,rough,confidence,outputs\n"
        );
        let rows = chain(3 * SPLIT_FROM);
        writer.put_blocks(&rows).expect("rows");
        let t = |i: usize| rows[i].time;
        for (from, to) in [
            (i64::MIN, i64::MAX),
            // Short ranges, one thread; a range of one row; none.
            (t(10), t(200)),
            (t(60), t(60)),
            (t(60) + 1, t(61) - 1),
            // Long ranges, two halves; ends that cut out rows dated
            // before their parents, and a middle that falls among them.
            (t(49), t(2 * 8_192 + 51)),
            (t(51) + 1, t(rows.len() - 1)),
            (t(0), t(2 * 9_749)),
        ] {
            let ours = answer(&readers, from, to);
            assert_eq!(ours, serde_answer(&writer, from, to), "{from}..{to}");
            assert_eq!(
                answer_as(&readers, Format::Csv, from, to),
                csv_answer(&writer, from, to),
                "{from}..{to}"
            );
            // And serde's answer is the rows written, all of them.
            let within: Vec<_> = rows
                .iter()
                .filter(|r| (from..=to).contains(&r.time))
                .map(|r| r.height)
                .collect();
            let answered: Vec<_> = serde_json::from_str::<serde_json::Value>(&ours).expect("JSON")
                ["blocks"]
                .as_array()
                .expect("rows")
                .iter()
                .map(|r| r["height"].as_u64())
                .collect();
            assert_eq!(answered.len(), within.len(), "{from}..{to}");
            assert!(answered
                .iter()
                .zip(&within)
                .all(|(a, w)| *a == Some(u64::from(*w))));
        }
        // Every long answer above used two connections at once.
        assert_eq!(readers.idle(), 2);
    }

    #[test]
    fn rows_written_between_the_two_halves_are_not_mixed_into_the_answer() {
        // A reorganisation of the last 100 blocks, then rows of the same
        // heights written again (as a second backfill of them does).
        for remove_first in [true, false] {
            let dir = fiatline_testkit::tempdir("blocks-answer");
            let path = dir.path().join("h.sqlite");
            let mut writer = Store::open(&path, Network::Main).expect("a history");
            let rows = chain(3 * SPLIT_FROM);
            writer.put_blocks(&rows).expect("rows");
            let before = serde_answer(&writer, i64::MIN, i64::MAX);
            let readers = Readers::new(&path);
            // The write lands after the first half's snapshot and before
            // the second's.
            let writer = Mutex::new(writer);
            let ours = blocks_answer_with(&readers, Format::Json, i64::MIN, i64::MAX, || {
                let mut writer = writer.lock().expect("the writer");
                let fork = rows[rows.len() - 100].height;
                if remove_first {
                    writer.remove_blocks_from(fork).expect("removed");
                }
                let mut replaced = rows[rows.len() - 100..].to_vec();
                for r in &mut replaced {
                    r.price += 1.0;
                }
                writer.put_blocks(&replaced).expect("replaced");
            })
            .expect("an answer");
            assert_eq!(String::from_utf8(ours).expect("UTF-8"), before);
            // And the next answer has the new rows.
            let writer = writer.into_inner().expect("the writer");
            let after = answer(&readers, i64::MIN, i64::MAX);
            assert_eq!(after, serde_answer(&writer, i64::MIN, i64::MAX));
            assert_ne!(after, before);
        }
    }
}
