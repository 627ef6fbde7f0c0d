//! The records by number: a set of boxed entries found by the number their
//! record holds. A map keyed by the number would store it twice (a second
//! allocation and a 24-B key in every slot) for every registered phone.

use super::Entry;
use std::borrow::Borrow;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};

/// An entry filed by its record's number: hashes and compares as that
/// `str`, so the set can be asked with a `&str` (the `Borrow` contract).
/// Boxed: a hash table keeps up to twice as many slots as entries, and an
/// empty slot then costs a pointer, not a whole record.
#[derive(Debug, Clone)]
struct Filed(Box<Entry>);

impl Filed {
    fn number(&self) -> &str {
        &self.0.record.number
    }
}

impl Borrow<str> for Filed {
    fn borrow(&self) -> &str {
        self.number()
    }
}

impl Hash for Filed {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.number().hash(state);
    }
}

impl PartialEq for Filed {
    fn eq(&self, other: &Self) -> bool {
        self.number() == other.number()
    }
}

impl Eq for Filed {}

/// At most one entry per number.
#[derive(Debug, Clone, Default)]
pub(super) struct Records(HashSet<Filed>);

impl Records {
    pub(super) fn get(&self, number: &str) -> Option<&Entry> {
        self.0.get(number).map(|f| &*f.0)
    }

    /// Changes the number's entry. A set gives no `&mut` to what it hashes,
    /// so the entry is taken out and filed again under whatever number it
    /// then holds: the set stays consistent whatever `change` does. Only
    /// for rare changes (a flow dropped, a conflict): it hashes twice.
    pub(super) fn update<R>(&mut self, number: &str, change: impl FnOnce(&mut Entry) -> R) -> Option<R> {
        let mut filed = self.0.take(number)?;
        let out = change(&mut filed.0);
        self.insert(filed.0);
        Some(out)
    }

    /// Files `entry`, replacing any entry with the same number.
    pub(super) fn insert(&mut self, entry: Box<Entry>) {
        self.0.replace(Filed(entry));
    }

    pub(super) fn remove(&mut self, number: &str) -> Option<Box<Entry>> {
        self.0.take(number).map(|f| f.0)
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.0.iter().map(|f| &*f.0)
    }

    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(super) fn clear(&mut self) {
        self.0.clear();
    }
}
