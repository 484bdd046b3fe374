//! The price history: one SQLite file (WAL, every write in a transaction,
//! the schema versioned by `PRAGMA user_version` and migrated forward).
//! A file belongs to one network: opening it for another is refused.

use std::fmt;
use std::path::{Path, PathBuf};

use fiatline_adapters::report::Report;
use fiatline_adapters::{BlockHash, Network};
use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension};

use super::series::BlockPrice;

/// The schema this build writes; each step below brings a file one
/// version forward.
const MIGRATIONS: &[&str] = &[
    // 1: a row per UTC day, with the whole report `price --date --json`
    // prints, and the numbers a query or chart needs as columns.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
     CREATE TABLE days (
         date TEXT PRIMARY KEY,
         time INTEGER NOT NULL,
         price REAL NOT NULL,
         rough INTEGER NOT NULL,
         confidence REAL NOT NULL,
         refined REAL,
         blocks INTEGER NOT NULL,
         txs INTEGER NOT NULL,
         first_height INTEGER,
         last_height INTEGER,
         report TEXT NOT NULL
     ) STRICT;",
    // 2: the live estimate, every few minutes while `serve --db` runs.
    "CREATE TABLE estimates (
         time INTEGER PRIMARY KEY,
         price REAL NOT NULL,
         confidence REAL NOT NULL,
         outputs INTEGER NOT NULL
     ) STRICT;",
    // 3: an exchange's price of each day, kept apart from on-chain data.
    "CREATE TABLE exchange (
         date TEXT PRIMARY KEY,
         time INTEGER NOT NULL,
         price REAL NOT NULL,
         source TEXT NOT NULL
     ) STRICT;",
    // 4: a row per block: the price of the 144 blocks ending at it.
    "CREATE TABLE blocks (
         height INTEGER PRIMARY KEY,
         hash TEXT NOT NULL,
         time INTEGER NOT NULL,
         price REAL NOT NULL,
         rough INTEGER NOT NULL,
         confidence REAL NOT NULL,
         outputs INTEGER NOT NULL
     ) STRICT;
     CREATE INDEX blocks_by_time ON blocks (time);",
];

/// Why the history file could not be used.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum StoreError {
    /// SQLite refused (cannot open, read-only, disk full, corrupt, …).
    Sqlite(PathBuf, rusqlite::Error),
    /// The file was written by a newer fiatline.
    TooNew { path: PathBuf, version: i64 },
    /// The file holds another network's prices.
    OtherNetwork { path: PathBuf, stored: String },
    /// A stored report could not be read back.
    Report(PathBuf, serde_json::Error),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(p, e) => {
                write!(f, "history database {}: {e}", p.display())?;
                // SQLite's words for a full disk or a file it may not
                // write say little; say what to look at.
                match e.sqlite_error_code() {
                    Some(ErrorCode::DiskFull | ErrorCode::SystemIoFailure) => f.write_str(
                        " (is the disk full? the days stored so far are kept; run again when there is room)",
                    ),
                    Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen) => f.write_str(
                        " (can this user write the file and its folder? SQLite adds -wal and -shm files beside it)",
                    ),
                    _ => Ok(()),
                }
            }
            Self::TooNew { path, version } => write!(
                f,
                "history database {}: schema version {version} is newer than this fiatline's {}",
                path.display(),
                MIGRATIONS.len()
            ),
            Self::OtherNetwork { path, stored } => write!(
                f,
                "history database {} holds {stored} prices: use another file for another network",
                path.display()
            ),
            Self::Report(p, e) => {
                write!(f, "history database {}: a stored report: {e}", p.display())
            }
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Sqlite(_, e) => Some(e),
            Self::Report(_, e) => Some(e),
            _ => None,
        }
    }
}

/// One stored day.
#[derive(Debug, Clone)]
pub(crate) struct Day {
    /// `YYYY-MM-DD`.
    pub(crate) date: String,
    /// 00:00 UTC of the date, Unix seconds.
    pub(crate) time: i64,
    /// The reference-exact price, USD.
    pub(crate) price: f64,
    /// The hourly refinement's price, where it was computed.
    pub(crate) refined: Option<f64>,
    /// An exchange's price of the day, where `backfill --exchange-url`
    /// fetched one.
    pub(crate) exchange: Option<f64>,
    /// The report `fiatline price --date D --json` prints for it.
    pub(crate) report: serde_json::Value,
}

/// One stored live estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Estimate {
    /// When it was made, in the data's time (Unix seconds).
    pub(crate) time: i64,
    /// USD per BTC.
    pub(crate) price: f64,
    /// The reference's confidence.
    pub(crate) confidence: f64,
    /// Outputs it was made from.
    pub(crate) outputs: i64,
}

/// One stored block: the price of the window of blocks ending at it. Its
/// hash owned, or (`BlockRow<&str>`) borrowed from the database while a
/// query walks its rows.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub(crate) struct BlockRow<H = String> {
    /// The block's height.
    pub(crate) height: u32,
    /// The block's hash, as Bitcoin Core shows it.
    pub(crate) hash: H,
    /// The block's header time, Unix seconds.
    pub(crate) time: i64,
    /// The reference-exact price of the window, USD.
    pub(crate) price: f64,
    /// Its rough price (step 8).
    pub(crate) rough: u32,
    /// The reference's confidence.
    pub(crate) confidence: f64,
    /// Outputs the window counted.
    pub(crate) outputs: i64,
}

impl BlockRow {
    /// The row of a priced window.
    pub(crate) fn of(p: &BlockPrice) -> Self {
        Self {
            height: p.height,
            hash: BlockHash(p.hash).to_string(),
            time: i64::from(p.time),
            price: p.estimate.price,
            rough: p.estimate.rough,
            confidence: p.estimate.confidence,
            outputs: i64::try_from(p.estimate.outputs).unwrap_or(i64::MAX),
        }
    }
}

/// An open history file.
#[derive(Debug)]
pub(crate) struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating it if need be) the history of `network` at `path`.
    ///
    /// # Errors
    /// Returns an error when SQLite cannot open or migrate the file, when
    /// a newer fiatline wrote it, or when it holds another network.
    pub(crate) fn open(path: &Path, network: Network) -> Result<Self, StoreError> {
        let mut store = Self::connect(path, OpenFlags::default())?;
        store.migrate()?;
        store.claim(network)?;
        Ok(store)
    }

    /// Opens an existing history read-only (for `history` and `serve`).
    ///
    /// # Errors
    /// Returns an error when the file cannot be opened or is too new.
    pub(crate) fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        let store = Self::connect(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let version = store.version()?;
        if usize::try_from(version).map_or(true, |v| v > MIGRATIONS.len()) {
            return Err(StoreError::TooNew {
                path: path.to_owned(),
                version,
            });
        }
        Ok(store)
    }

    /// Lets this connection keep up to `kib` KiB of the file's pages
    /// between reads (SQLite's default is 2 MiB).
    ///
    /// # Errors
    /// Returns SQLite's error.
    pub(crate) fn keeping_pages(self, kib: u32) -> Result<Self, StoreError> {
        // A negative cache size is KiB, a positive one pages.
        self.conn
            .pragma_update(None, "cache_size", -i64::from(kib))
            .map_err(|e| self.err(e))?;
        Ok(self)
    }

    fn connect(path: &Path, flags: OpenFlags) -> Result<Self, StoreError> {
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|e| StoreError::Sqlite(path.to_owned(), e))?;
        let store = Self {
            conn,
            path: path.to_owned(),
        };
        // Writers and readers (a backfill and `serve`) share the file;
        // a busy writer is waited for rather than failed.
        store
            .conn
            .busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| store.err(e))?;
        if !flags.contains(OpenFlags::SQLITE_OPEN_READ_ONLY) {
            store
                .conn
                .pragma_update(None, "journal_mode", "WAL")
                .map_err(|e| store.err(e))?;
        }
        Ok(store)
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        StoreError::Sqlite(self.path.clone(), e)
    }

    fn version(&self) -> Result<i64, StoreError> {
        self.conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// Brings the schema to this build's version, one step per transaction.
    fn migrate(&mut self) -> Result<(), StoreError> {
        let version = self.version()?;
        let Ok(from) = usize::try_from(version) else {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                version,
            });
        };
        if from > MIGRATIONS.len() {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                version,
            });
        }
        for (i, step) in MIGRATIONS.iter().enumerate().skip(from) {
            let path = &self.path;
            let tx = self
                .conn
                .transaction()
                .map_err(|e| StoreError::Sqlite(path.clone(), e))?;
            tx.execute_batch(step)
                .and_then(|()| tx.pragma_update(None, "user_version", i + 1))
                .and_then(|()| tx.commit())
                .map_err(|e| StoreError::Sqlite(self.path.clone(), e))?;
        }
        Ok(())
    }

    /// Records the file's network, or checks it is `network`.
    fn claim(&self, network: Network) -> Result<(), StoreError> {
        let name = network.to_string();
        let stored: Option<String> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'network'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))?;
        match stored {
            Some(stored) if stored != name => Err(StoreError::OtherNetwork {
                path: self.path.clone(),
                stored,
            }),
            Some(_) => Ok(()),
            None => self
                .conn
                .execute(
                    "INSERT INTO meta (key, value) VALUES ('network', ?1)",
                    [name],
                )
                .map(drop)
                .map_err(|e| self.err(e)),
        }
    }

    /// The dates stored, of those between `from` and `to` (inclusive,
    /// `YYYY-MM-DD`).
    ///
    /// # Errors
    /// Returns SQLite's error.
    pub(crate) fn dates(&self, from: &str, to: &str) -> Result<Vec<String>, StoreError> {
        let mut q = self
            .conn
            .prepare_cached("SELECT date FROM days WHERE date BETWEEN ?1 AND ?2 ORDER BY date")
            .map_err(|e| self.err(e))?;
        let rows = q
            .query_map([from, to], |r| r.get(0))
            .and_then(Iterator::collect);
        rows.map_err(|e| self.err(e))
    }

    /// Stores the report of `date` (00:00 UTC at `time`), replacing the
    /// row of the same date, in one transaction: a crash leaves the row
    /// whole or absent.
    ///
    /// # Errors
    /// Returns SQLite's error (read-only file, disk full, …); nothing
    /// stored before is lost.
    pub(crate) fn put(&mut self, date: &str, time: i64, r: &Report) -> Result<(), StoreError> {
        let report =
            serde_json::to_string(r).map_err(|e| StoreError::Report(self.path.clone(), e))?;
        let path = &self.path;
        let tx = self
            .conn
            .transaction()
            .map_err(|e| StoreError::Sqlite(path.clone(), e))?;
        tx.execute(
            "INSERT OR REPLACE INTO days
                 (date, time, price, rough, confidence, refined, blocks, txs,
                  first_height, last_height, report)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                date,
                time,
                r.price,
                r.rough,
                r.confidence,
                r.hourly.as_ref().map(|h| h.refined),
                r.blocks,
                r.txs,
                r.first_height,
                r.last_height,
                report
            ],
        )
        .and_then(|_| tx.commit())
        .map_err(|e| StoreError::Sqlite(self.path.clone(), e))
    }

    /// The days between `from` and `to` (inclusive), oldest first.
    ///
    /// # Errors
    /// Returns SQLite's error, or a report that does not read back.
    pub(crate) fn days(&self, from: &str, to: &str) -> Result<Vec<Day>, StoreError> {
        let mut q = self
            .conn
            .prepare_cached(
                "SELECT d.date, d.time, d.price, d.refined, x.price, d.report
                 FROM days d LEFT JOIN exchange x ON x.date = d.date
                 WHERE d.date BETWEEN ?1 AND ?2 ORDER BY d.date",
            )
            .map_err(|e| self.err(e))?;
        // The report is read back after the query, where its error has a type.
        let rows: Vec<(Day, String)> = q
            .query_map([from, to], |r| {
                let day = Day {
                    date: r.get(0)?,
                    time: r.get(1)?,
                    price: r.get(2)?,
                    refined: r.get(3)?,
                    exchange: r.get(4)?,
                    report: serde_json::Value::Null,
                };
                Ok((day, r.get(5)?))
            })
            .and_then(Iterator::collect)
            .map_err(|e| self.err(e))?;
        rows.into_iter()
            .map(|(day, report)| {
                let report = serde_json::from_str(&report)
                    .map_err(|e| StoreError::Report(self.path.clone(), e))?;
                Ok(Day { report, ..day })
            })
            .collect()
    }

    /// The stored days between `from` and `to` that have no exchange price.
    ///
    /// # Errors
    /// Returns SQLite's error.
    pub(crate) fn days_without_exchange(
        &self,
        from: &str,
        to: &str,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let mut q = self
            .conn
            .prepare_cached(
                "SELECT d.date, d.time FROM days d LEFT JOIN exchange x ON x.date = d.date
                 WHERE d.date BETWEEN ?1 AND ?2 AND x.date IS NULL ORDER BY d.date",
            )
            .map_err(|e| self.err(e))?;
        let rows = q
            .query_map([from, to], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(Iterator::collect);
        rows.map_err(|e| self.err(e))
    }

    /// Stores an exchange's price of `date` (as the feed dated it), from
    /// `source` (shown without credentials).
    ///
    /// # Errors
    /// Returns SQLite's error; nothing stored before is lost.
    pub(crate) fn put_exchange(
        &self,
        date: &str,
        time: i64,
        price: f64,
        source: &str,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO exchange (date, time, price, source) VALUES (?1, ?2, ?3, ?4)",
                params![date, time, price, source],
            )
            .map(drop)
            .map_err(|e| self.err(e))
    }

    /// The last date stored, if any.
    ///
    /// # Errors
    /// Returns SQLite's error.
    pub(crate) fn last_date(&self) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT MAX(date) FROM days", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// Stores the live estimate made at `time` (data time, Unix seconds).
    ///
    /// # Errors
    /// Returns SQLite's error; nothing stored before is lost.
    pub(crate) fn put_estimate(&self, e: &Estimate) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO estimates (time, price, confidence, outputs)
                 VALUES (?1, ?2, ?3, ?4)",
                params![e.time, e.price, e.confidence, e.outputs],
            )
            .map(drop)
            .map_err(|e| self.err(e))
    }

    /// The live estimates stored between `from` and `to` (Unix seconds,
    /// inclusive), oldest first.
    ///
    /// # Errors
    /// Returns SQLite's error.
    pub(crate) fn estimates(&self, from: i64, to: i64) -> Result<Vec<Estimate>, StoreError> {
        let mut q = self
            .conn
            .prepare_cached(
                "SELECT time, price, confidence, outputs FROM estimates
                 WHERE time BETWEEN ?1 AND ?2 ORDER BY time",
            )
            .map_err(|e| self.err(e))?;
        let rows = q
            .query_map([from, to], |r| {
                Ok(Estimate {
                    time: r.get(0)?,
                    price: r.get(1)?,
                    confidence: r.get(2)?,
                    outputs: r.get(3)?,
                })
            })
            .and_then(Iterator::collect);
        rows.map_err(|e| self.err(e))
    }

    /// The last day at or before `time` (Unix seconds), if any.
    ///
    /// # Errors
    /// Returns SQLite's error, or a report that does not read back.
    pub(crate) fn day_at(&self, time: i64) -> Result<Option<Day>, StoreError> {
        let row: Option<String> = self
            .conn
            .query_row(
                "SELECT date FROM days WHERE time <= ?1 ORDER BY time DESC LIMIT 1",
                [time],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        match row {
            Some(date) => Ok(self.days(&date, &date)?.pop()),
            None => Ok(None),
        }
    }

    /// Stores the rows of `blocks`, replacing rows of the same heights, in
    /// one transaction: a crash leaves all of them or none.
    ///
    /// # Errors
    /// Returns SQLite's error (read-only file, disk full, …); nothing
    /// stored before is lost.
    pub(crate) fn put_blocks(&mut self, blocks: &[BlockRow]) -> Result<(), StoreError> {
        let path = &self.path;
        let tx = self
            .conn
            .transaction()
            .map_err(|e| StoreError::Sqlite(path.clone(), e))?;
        let written = (|| {
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO blocks
                     (height, hash, time, price, rough, confidence, outputs)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for b in blocks {
                insert.execute(params![
                    b.height,
                    b.hash,
                    b.time,
                    b.price,
                    b.rough,
                    b.confidence,
                    b.outputs
                ])?;
            }
            bump_blocks_written(&tx)
        })();
        written
            .and_then(|()| tx.commit())
            .map_err(|e| StoreError::Sqlite(self.path.clone(), e))
    }

    /// Removes the rows of blocks at `height` and above (a reorganisation
    /// disconnected them), in one transaction; returns how many went.
    ///
    /// # Errors
    /// Returns SQLite's error; nothing is removed then.
    pub(crate) fn remove_blocks_from(&mut self, height: u32) -> Result<usize, StoreError> {
        let path = &self.path;
        let tx = self
            .conn
            .transaction()
            .map_err(|e| StoreError::Sqlite(path.clone(), e))?;
        let removed = tx
            .execute("DELETE FROM blocks WHERE height >= ?1", [height])
            .and_then(|n| bump_blocks_written(&tx).map(|()| n));
        removed
            .and_then(|n| tx.commit().map(|()| n))
            .map_err(|e| StoreError::Sqlite(self.path.clone(), e))
    }

    /// How many writes the block rows have had (each [`Self::put_blocks`]
    /// and [`Self::remove_blocks_from`] counts one, in its transaction):
    /// two reads that see the same count see the same rows.
    ///
    /// # Errors
    /// Returns SQLite's error, or a count that is not a number.
    pub(crate) fn blocks_written(&self) -> Result<u64, StoreError> {
        let count: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'blocks_written'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        // A file from before the count has none: it counts from 0.
        count.map_or(Ok(0), |c| {
            c.parse().map_err(|e: std::num::ParseIntError| {
                self.err(rusqlite::Error::FromSqlConversionFailure(
                    0,
                    rusqlite::types::Type::Text,
                    e.into(),
                ))
            })
        })
    }

    /// The heights stored between `from` and `to` (inclusive), ascending.
    ///
    /// # Errors
    /// Returns SQLite's error.
    pub(crate) fn block_heights(&self, from: u32, to: u32) -> Result<Vec<u32>, StoreError> {
        let mut q = self
            .conn
            .prepare_cached(
                "SELECT height FROM blocks WHERE height BETWEEN ?1 AND ?2 ORDER BY height",
            )
            .map_err(|e| self.err(e))?;
        let rows = q
            .query_map([from, to], |r| r.get(0))
            .and_then(Iterator::collect);
        rows.map_err(|e| self.err(e))
    }

    /// The last block stored: its height and hash.
    ///
    /// # Errors
    /// Returns SQLite's error.
    pub(crate) fn last_block(&self) -> Result<Option<(u32, String)>, StoreError> {
        self.conn
            .query_row(
                "SELECT height, hash FROM blocks ORDER BY height DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// The blocks whose header time lies between `from` and `to` (Unix
    /// seconds, inclusive), by height.
    ///
    /// # Errors
    /// Returns SQLite's error.
    pub(crate) fn blocks(&self, from: i64, to: i64) -> Result<Vec<BlockRow>, StoreError> {
        let mut rows = Vec::new();
        self.each_block(from, to, |r| {
            rows.push(BlockRow {
                height: r.height,
                hash: r.hash.to_owned(),
                time: r.time,
                price: r.price,
                rough: r.rough,
                confidence: r.confidence,
                outputs: r.outputs,
            });
        })?;
        Ok(rows)
    }

    /// Calls `visit` with each block row whose time lies from `from` to
    /// `to` (Unix seconds), in height order, its hash borrowed: a year of
    /// rows (~53,000) goes out without a copy of each.
    ///
    /// # Errors
    /// Returns SQLite's error, or a row whose hash is not text.
    pub(crate) fn each_block(
        &self,
        from: i64,
        to: i64,
        visit: impl FnMut(&BlockRow<&str>),
    ) -> Result<(), StoreError> {
        // One snapshot for both statements: a block stored between them
        // is in both or neither.
        self.in_snapshot(|st| match st.block_span(from, to)? {
            Some(heights) => st.each_block_of(heights, from, to, visit),
            None => Ok(()),
        })
    }

    /// Runs `read` in one read transaction: every statement it runs sees
    /// the file as it was at the first.
    ///
    /// # Errors
    /// Returns SQLite's error, or `read`'s.
    pub(crate) fn in_snapshot<T>(
        &self,
        read: impl FnOnce(&Self) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // Rolled back when dropped: it only ever reads.
        let _snapshot = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        read(self)
    }

    /// The first and last heights of the block rows whose time lies from
    /// `from` to `to` (Unix seconds), if any does.
    ///
    /// # Errors
    /// Returns SQLite's error.
    pub(crate) fn block_span(&self, from: i64, to: i64) -> Result<Option<(u32, u32)>, StoreError> {
        // One pass over the time index for both ends; the rows are then
        // walked along the table in height order: no sort, and no lookup
        // from the index into the table for each of ~53,000 rows of a
        // year, which took most of the query's time.
        let heights: (Option<u32>, Option<u32>) = self
            .conn
            .prepare_cached(
                "SELECT MIN(height), MAX(height) FROM blocks WHERE time BETWEEN ?1 AND ?2",
            )
            .and_then(|mut q| q.query_row([from, to], |r| Ok((r.get(0)?, r.get(1)?))))
            .map_err(|e| self.err(e))?;
        Ok(heights.0.zip(heights.1))
    }

    /// Calls `visit` with each block row from height `heights.0` to
    /// `heights.1` whose time lies from `from` to `to`, in height order
    /// (a block's time may be earlier than its parent's, so a row within
    /// the heights may lie outside the times).
    ///
    /// # Errors
    /// Returns SQLite's error, or a row whose hash is not text.
    pub(crate) fn each_block_of(
        &self,
        heights: (u32, u32),
        from: i64,
        to: i64,
        mut visit: impl FnMut(&BlockRow<&str>),
    ) -> Result<(), StoreError> {
        let mut q = self
            .conn
            .prepare_cached(
                "SELECT height, hash, time, price, rough, confidence, outputs FROM blocks
                 WHERE height BETWEEN ?3 AND ?4 AND time BETWEEN ?1 AND ?2
                 ORDER BY height",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = q
            .query(params![from, to, heights.0, heights.1])
            .map_err(|e| self.err(e))?;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let row = (|| {
                let hash = r.get_ref(1)?.as_str().map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        1,
                        rusqlite::types::Type::Text,
                        e.into(),
                    )
                })?;
                Ok(BlockRow {
                    height: r.get(0)?,
                    hash,
                    time: r.get(2)?,
                    price: r.get(3)?,
                    rough: r.get(4)?,
                    confidence: r.get(5)?,
                    outputs: r.get(6)?,
                })
            })();
            visit(&row.map_err(|e: rusqlite::Error| self.err(e))?);
        }
        Ok(())
    }

    /// The heights the stored days between `from` and `to` span: the first
    /// day's first block to the last day's last.
    ///
    /// # Errors
    /// Returns SQLite's error.
    pub(crate) fn day_heights(
        &self,
        from: &str,
        to: &str,
    ) -> Result<Option<(u32, u32)>, StoreError> {
        let (first, last): (Option<u32>, Option<u32>) = self
            .conn
            .query_row(
                "SELECT MIN(first_height), MAX(last_height) FROM days WHERE date BETWEEN ?1 AND ?2",
                [from, to],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| self.err(e))?;
        Ok(first.zip(last))
    }
}

/// Counts one more write of the block rows, in the transaction `tx` that
/// makes it (see [`Store::blocks_written`]).
fn bump_blocks_written(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('blocks_written', '1')
         ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)",
        [],
    )
    .map(drop)
}
