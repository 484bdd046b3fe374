//! A block row as text: JSON as `serde_json` writes a [`BlockRow`], or a
//! CSV line; `fiatline history --blocks` and `serve`'s answers write
//! them here.

use std::io::Write as _;

use super::store::BlockRow;

/// How block rows are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// `{"blocks":[{"height", "hash", "time", "price", "rough",
    /// "confidence", "outputs"}, …]}`.
    Json,
    /// A header, `height,hash,time,price,rough,confidence,outputs`, and
    /// a line a row.
    Csv,
}

impl Format {
    /// What comes before the rows.
    pub(crate) fn open(self) -> &'static [u8] {
        match self {
            Self::Json => b"{\"blocks\":[",
            Self::Csv => b"height,hash,time,price,rough,confidence,outputs\n",
        }
    }

    /// What comes after the rows.
    pub(crate) fn close(self) -> &'static [u8] {
        match self {
            Self::Json => b"]}",
            Self::Csv => b"",
        }
    }

    /// What comes between two rows.
    pub(crate) fn separator(self) -> &'static [u8] {
        match self {
            Self::Json => b",",
            Self::Csv => b"",
        }
    }

    /// Appends `row`.
    pub(crate) fn write<H: AsRef<str>>(self, out: &mut Vec<u8>, row: &BlockRow<H>) {
        match self {
            Self::Json => write_json(out, row),
            Self::Csv => write_csv(out, row),
        }
    }

    /// `rows`, with what comes before and after them.
    pub(crate) fn all<H: AsRef<str>>(self, rows: &[BlockRow<H>]) -> Vec<u8> {
        let mut out = Vec::from(self.open());
        for (i, row) in rows.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(self.separator());
            }
            self.write(&mut out, row);
        }
        out.extend_from_slice(self.close());
        out
    }
}

/// Appends `row` as a CSV line.
fn write_csv<H: AsRef<str>>(out: &mut Vec<u8>, b: &BlockRow<H>) {
    // Writing to a Vec cannot fail.
    let _ = writeln!(
        out,
        "{},{},{},{},{},{},{}",
        b.height,
        b.hash.as_ref(),
        b.time,
        b.price,
        b.rough,
        b.confidence,
        b.outputs
    );
}

/// Appends `row` as JSON, byte for byte as `serde_json` writes a
/// `BlockRow` (test `a_json_row_is_written_as_serde_writes_it`), but the
/// fixed keys and a hexadecimal hash go in without the pass that looks
/// for characters to escape (a hash that is not hex is escaped as any
/// string): for a year of rows, that pass over ~6 MB of keys and hashes
/// was a good part of the answer's time.
fn write_json<H: AsRef<str>>(out: &mut Vec<u8>, row: &BlockRow<H>) {
    field(out, b"{\"height\":", &row.height);
    out.extend_from_slice(b",\"hash\":");
    if row.hash.as_ref().bytes().all(|b| b.is_ascii_hexdigit()) {
        out.push(b'"');
        out.extend_from_slice(row.hash.as_ref().as_bytes());
        out.push(b'"');
    } else {
        // A string always serialises, and a Vec takes it.
        let _ = serde_json::to_writer(&mut *out, row.hash.as_ref());
    }
    field(out, b",\"time\":", &row.time);
    field(out, b",\"price\":", &row.price);
    field(out, b",\"rough\":", &row.rough);
    field(out, b",\"confidence\":", &row.confidence);
    field(out, b",\"outputs\":", &row.outputs);
    out.push(b'}');
}

/// Appends `key` (the JSON before a value) and the number `value`.
fn field<T: serde::Serialize>(out: &mut Vec<u8>, key: &[u8], value: &T) {
    out.extend_from_slice(key);
    // A number always serialises, and a Vec takes it.
    let _ = serde_json::to_writer(&mut *out, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_row_is_written_as_serde_writes_it() {
        let hex = "00000000000000000002a7c4c1e48d76c5a37902165a270156b7a8d72728a054";
        // A hash read from a damaged file, a number serde writes as null,
        // and the extremes of the integers.
        let odd = "a\"b\\c\u{1}\u{7f}é";
        for (hash, price, confidence, height, outputs) in [
            (
                hex,
                42_951.636_457_349_03,
                0.722_926_276_879_777_3,
                702_861,
                3_315,
            ),
            (odd, f64::NAN, 1e-300, u32::MAX, i64::MIN),
            ("", f64::INFINITY, -0.0, 0, i64::MAX),
        ] {
            let row = BlockRow {
                height,
                hash,
                time: -1,
                price,
                rough: 42_880,
                confidence,
                outputs,
            };
            let mut ours = Vec::new();
            write_json(&mut ours, &row);
            let theirs = serde_json::to_vec(&row).unwrap();
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                String::from_utf8(theirs).unwrap()
            );
        }
    }

    #[test]
    fn all_rows_of_each_format() {
        #[derive(serde::Serialize)]
        struct Answer<'a> {
            blocks: &'a [BlockRow<&'a str>],
        }
        let row = |height: u32, price: f64| BlockRow {
            height,
            hash: "00ab",
            time: 1_704_067_200,
            price,
            rough: 42_000,
            confidence: 0.25,
            outputs: 7,
        };
        let rows = [row(1, 42_000.0), row(2, 42_000.5)];
        assert_eq!(
            String::from_utf8(Format::Csv.all(&rows)).expect("UTF-8"),
            "height,hash,time,price,rough,confidence,outputs\n\
             1,00ab,1704067200,42000,42000,0.25,7\n\
             2,00ab,1704067200,42000.5,42000,0.25,7\n"
        );
        assert_eq!(
            Format::Json.all(&rows),
            serde_json::to_vec(&Answer { blocks: &rows }).expect("JSON")
        );
        assert_eq!(Format::Json.all::<&str>(&[]), b"{\"blocks\":[]}");
    }
}
