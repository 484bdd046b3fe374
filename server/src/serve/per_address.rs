//! Counts per peer address, each under a cap: sockets per address for
//! `/ws`, connections per address at accept. One client on the LAN then
//! cannot take every place, whatever it opens.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// What each address holds now. Cloning shares the counts.
#[derive(Debug, Default, Clone)]
pub(crate) struct PerAddress(Arc<Mutex<HashMap<IpAddr, usize>>>);

/// One place held by an address, given back when dropped.
#[derive(Debug)]
pub(crate) struct AddressSlot {
    counts: PerAddress,
    ip: IpAddr,
}

impl PerAddress {
    /// Takes a place for `ip` if it holds fewer than `cap`.
    pub(crate) fn take(&self, ip: IpAddr, cap: usize) -> Option<AddressSlot> {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let held = map.entry(ip).or_insert(0);
        if *held >= cap {
            return None;
        }
        *held += 1;
        Some(AddressSlot {
            counts: self.clone(),
            ip,
        })
    }

    /// How many addresses hold a place now.
    #[cfg(test)]
    fn addresses(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut map = self.counts.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(held) = map.get_mut(&self.ip) {
            *held -= 1;
            if *held == 0 {
                // Addresses that left take no memory.
                map.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_is_capped_and_gets_its_places_back() {
        let counts = PerAddress::default();
        let a: IpAddr = "192.168.1.20".parse().unwrap();
        let b: IpAddr = "192.168.1.21".parse().unwrap();
        let first = counts.take(a, 2).unwrap();
        let second = counts.take(a, 2).unwrap();
        assert!(counts.take(a, 2).is_none(), "a third place for a");
        let other = counts.take(b, 2);
        assert!(other.is_some(), "b is not held back by a");
        drop(first);
        let again = counts.take(a, 2);
        assert!(again.is_some(), "a's place came back");
        drop((second, again, other));
        assert_eq!(counts.addresses(), 0);
    }
}
