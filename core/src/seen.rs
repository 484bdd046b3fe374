//! The run's set of seen txids: an open-addressing hash table in storage
//! lent by the caller.

use crate::txid::{home_slot, Txid};
use crate::CapacityError;

/// Returns a slot count that holds `txids` at a load of one half, where
/// lookups cost about 1.5 probes.
pub const fn txid_slots_for(txids: usize) -> usize {
    txids.saturating_mul(2).saturating_add(1)
}

/// A set of txids in storage of the caller's: a slice (`&mut [Txid]`), an
/// array, or with `std` a `Vec` that [`TxidSet::grow_into`] can replace.
///
/// Txids are already uniform hashes, so their first eight bytes pick the
/// slot; collisions probe linearly. An all-zero slot is empty, and the one
/// txid that is all zeros is remembered apart. The set holds at most 7/8 of
/// its slots, which keeps probes short; [`txid_slots_for`] sizes storage.
#[derive(Debug)]
pub struct TxidSet<S> {
    slots: S,
    len: usize,
    has_zero: bool,
}

impl<S: AsRef<[Txid]> + AsMut<[Txid]>> TxidSet<S> {
    /// Creates an empty set over `storage`, clearing it.
    pub fn new(mut storage: S) -> Self {
        storage.as_mut().fill(Txid::default());
        Self {
            slots: storage,
            len: 0,
            has_zero: false,
        }
    }

    /// Moves the set into new storage (typically larger), rehashing every
    /// txid, and returns the old storage's set as the new one.
    ///
    /// # Errors
    /// Returns [`CapacityError::Txids`] if the new storage cannot hold the
    /// set; nothing is lost then, `self` comes back in the error.
    pub fn grow_into<N: AsRef<[Txid]> + AsMut<[Txid]>>(
        self,
        storage: N,
    ) -> Result<TxidSet<N>, (Self, CapacityError)> {
        if !self.fits_in(storage.as_ref().len()) {
            return Err((self, CapacityError::Txids));
        }
        Ok(self.move_into(storage))
    }

    /// Returns true when `slots` slots can hold this set.
    pub(crate) fn fits_in(&self, slots: usize) -> bool {
        slots - slots / 8 >= self.len
    }

    /// Rehashes into `storage`, which [`TxidSet::fits_in`] has approved.
    pub(crate) fn move_into<N: AsRef<[Txid]> + AsMut<[Txid]>>(self, storage: N) -> TxidSet<N> {
        let mut bigger = TxidSet::new(storage);
        for txid in self.slots.as_ref().iter().filter(|t| !is_zero(&t.0)) {
            // Room was checked, and the txids are distinct.
            let _ = bigger.insert(txid);
        }
        bigger.has_zero = self.has_zero;
        bigger
    }

    /// Returns the most txids this storage accepts.
    pub fn capacity(&self) -> usize {
        let n = self.slots.as_ref().len();
        n - n / 8
    }

    /// Returns the number of txids in the set.
    pub const fn len(&self) -> usize {
        self.len + self.has_zero as usize
    }

    /// Returns true when the set holds no txid.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Returns how many more txids fit.
    pub fn room(&self) -> usize {
        self.capacity().saturating_sub(self.len)
    }

    /// Adds `txid`; returns false if it was already present.
    ///
    /// # Errors
    /// Returns [`CapacityError::Txids`] when the set is at capacity.
    pub fn insert(&mut self, txid: &Txid) -> Result<bool, CapacityError> {
        if is_zero(&txid.0) {
            return Ok(!core::mem::replace(&mut self.has_zero, true));
        }
        let slot = self.find(&txid.0).ok_or(CapacityError::Txids)?;
        if self.slots.as_ref().get(slot).is_some_and(|s| s == txid) {
            return Ok(false);
        }
        if self.len >= self.capacity() {
            return Err(CapacityError::Txids);
        }
        if let Some(s) = self.slots.as_mut().get_mut(slot) {
            *s = *txid;
            self.len += 1;
        }
        Ok(true)
    }

    /// Returns true when `txid` (internal byte order) is in the set.
    pub fn contains(&self, txid: &[u8; 32]) -> bool {
        if is_zero(txid) {
            return self.has_zero;
        }
        self.find(txid)
            .and_then(|i| self.slots.as_ref().get(i))
            .is_some_and(|s| &s.0 == txid)
    }

    /// Returns the slot holding `txid`, or the empty slot where it would go.
    fn find(&self, txid: &[u8; 32]) -> Option<usize> {
        let slots = self.slots.as_ref();
        let n = slots.len();
        let start = home_slot(txid, n);
        let (tail, head) = (slots.get(start..)?, slots.get(..start)?);
        tail.iter()
            .chain(head)
            .position(|s| &s.0 == txid || is_zero(&s.0))
            .map(|i| (start + i) % n)
    }
}

fn is_zero(bytes: &[u8; 32]) -> bool {
    bytes.iter().all(|&b| b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txid(n: u64) -> Txid {
        // Spread like real txids: run the counter through SHA-256.
        Txid(crate::txid::sha256d(&[&n.to_le_bytes()]))
    }

    #[test]
    fn inserts_and_finds() {
        let mut storage = [Txid::default(); 23];
        let mut set = TxidSet::new(&mut storage);
        assert_eq!(set.capacity(), 21);
        for n in 0..21 {
            assert_eq!(set.insert(&txid(n)), Ok(true));
        }
        assert_eq!(set.insert(&txid(3)), Ok(false));
        assert_eq!(set.insert(&txid(99)), Err(CapacityError::Txids));
        assert_eq!(set.len(), 21);
        assert!((0..21).all(|n| set.contains(&txid(n).0)));
        assert!(!(21..200).any(|n| set.contains(&txid(n).0)));
    }

    #[test]
    fn the_zero_txid_needs_no_slot() {
        let mut storage = [];
        let mut set = TxidSet::new(&mut storage);
        assert!(!set.contains(&[0; 32]));
        assert_eq!(set.insert(&Txid([0; 32])), Ok(true));
        assert_eq!(set.insert(&Txid([0; 32])), Ok(false));
        assert!(set.contains(&[0; 32]));
        assert_eq!(set.len(), 1);
        assert_eq!(set.insert(&txid(1)), Err(CapacityError::Txids));
        assert!(!set.contains(&txid(1).0));
    }

    #[test]
    fn growing_keeps_every_txid() {
        let mut set = TxidSet::new([Txid::default(); 16]);
        for n in 0..14 {
            set.insert(&txid(n)).unwrap();
        }
        set.insert(&Txid([0; 32])).unwrap();
        let set = match set.grow_into([Txid::default(); 8]) {
            Err((set, e)) => {
                assert_eq!(e, CapacityError::Txids);
                set
            }
            Ok(_) => panic!("8 slots cannot hold 14 txids"),
        };
        let Ok(mut bigger) = set.grow_into([Txid::default(); 64]) else {
            panic!("room")
        };
        assert_eq!(bigger.len(), 15);
        assert!((0..14).all(|n| bigger.contains(&txid(n).0)));
        assert!(bigger.contains(&[0; 32]));
        assert_eq!(bigger.insert(&txid(20)), Ok(true));
    }
}
