//! The read connections `serve --db` keeps to its history file between
//! requests. A connection opened for each request read every page it
//! needed from the file again (a year of block rows is ~10 MB of pages);
//! a kept one answers from its page cache while the file has not changed
//! since its last read (SQLite drops a reader's cache when a write lands).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use super::store::{Store, StoreError};

/// Idle connections kept: the two a long block answer reads with at once
/// (one a half), or two requests' reads; a third reader at once opens its
/// own and closes it after.
const KEPT: usize = 2;

/// The page cache of each kept connection, KiB: a year of block rows and
/// their time index fit (~8 MB), ten years of days many times over.
const CACHE_KIB: u32 = 16 * 1024;

/// Read-only connections to one history file, reused between requests.
#[derive(Debug)]
pub(crate) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Store>>,
}

impl Readers {
    /// Connections to the history at `path`, opened when first needed.
    pub(crate) fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            idle: Mutex::new(Vec::with_capacity(KEPT)),
        }
    }

    /// Runs `read` on an idle connection, or on a new one when none is
    /// idle, and keeps the connection for the next read unless `read`
    /// failed (a connection that saw an error is not trusted again).
    ///
    /// # Errors
    /// Returns the error of opening the file, or `read`'s.
    pub(crate) fn read<T>(
        &self,
        read: impl FnOnce(&Store) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // A reader that panicked held the lock only to push or pop: the
        // list itself is whole.
        let kept = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let store = match kept {
            Some(store) => store,
            None => Store::open_read_only(&self.path)?.keeping_pages(CACHE_KIB)?,
        };
        let answer = read(&store)?;
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < KEPT {
            idle.push(store);
        }
        Ok(answer)
    }

    /// Connections idle now.
    #[cfg(test)]
    pub(crate) fn idle(&self) -> usize {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::store::BlockRow;
    use fiatline_adapters::Network;

    fn row(height: u32) -> BlockRow {
        BlockRow {
            height,
            hash: format!("{height:064x}"),
            time: 1_704_067_200 + i64::from(height) * 600,
            price: 42_000.0 + f64::from(height),
            rough: 42_000,
            confidence: 0.5,
            outputs: 300_000,
        }
    }

    fn heights(readers: &Readers) -> Vec<u32> {
        readers
            .read(|st| st.block_heights(0, u32::MAX))
            .expect("a read")
    }

    #[test]
    fn a_kept_connection_sees_what_was_written_after_its_last_read() {
        let dir = fiatline_testkit::tempdir("readers");
        let path = dir.path().join("h.sqlite");
        let mut writer = Store::open(&path, Network::Main).expect("a history");
        writer.put_blocks(&[row(1), row(2)]).expect("rows");
        let readers = Readers::new(&path);
        assert_eq!(heights(&readers), [1, 2]);
        assert_eq!(readers.idle(), 1, "the connection is kept");
        // A write, a replacement and a removal, each seen by the kept
        // connection's next read (its cached pages are not served stale).
        writer.put_blocks(&[row(3)]).expect("a row");
        assert_eq!(heights(&readers), [1, 2, 3]);
        writer.remove_blocks_from(2).expect("a reorganisation");
        assert_eq!(heights(&readers), [1]);
        let mut replaced = row(1);
        replaced.price = 1.0;
        writer.put_blocks(&[replaced.clone()]).expect("a row");
        let rows = readers
            .read(|st| st.blocks(i64::MIN, i64::MAX))
            .expect("a read");
        assert_eq!(rows, [replaced]);
        assert_eq!(readers.idle(), 1, "one connection served every read");
    }

    #[test]
    fn readers_at_once_open_their_own_and_a_failed_read_drops_its_connection() {
        let dir = fiatline_testkit::tempdir("readers");
        let path = dir.path().join("h.sqlite");
        Store::open(&path, Network::Main).expect("a history");
        let readers = Readers::new(&path);
        // Three reads nested: each finds the others' connections busy.
        let nested = readers
            .read(|_| readers.read(|_| readers.read(|st| st.block_heights(0, 1)).map(|h| h.len())));
        assert_eq!(nested.expect("reads"), 0);
        assert_eq!(readers.idle(), KEPT, "no more than {KEPT} kept");
        let failed: Result<(), _> = readers.read(|st| {
            st.block_heights(0, 1)?;
            Err(StoreError::TooNew {
                path: path.clone(),
                version: 99,
            })
        });
        assert!(failed.is_err());
        assert_eq!(
            readers.idle(),
            KEPT - 1,
            "the failed read's connection is gone"
        );
    }

    #[test]
    fn a_missing_file_is_an_error_each_time_not_a_kept_connection() {
        let dir = fiatline_testkit::tempdir("readers");
        let readers = Readers::new(&dir.path().join("none.sqlite"));
        for _ in 0..2 {
            assert!(matches!(
                readers.read(|st| st.block_heights(0, 1)),
                Err(StoreError::Sqlite(..))
            ));
        }
        assert_eq!(readers.idle(), 0);
    }
}
