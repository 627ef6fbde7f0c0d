//! The numbers registered over one flow, each with whether it is RFC 5626
//! outbound there: a sorted `Vec`, not a map. A flow carries one number (a
//! phone) far more often than many, and the smallest `BTreeMap` node is a
//! dozen entries wide: with thousands of parked phones that was a few hundred
//! bytes per flow for one string and one flag.

/// Number → outbound, sorted by number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FlowNumbers(Vec<(Box<str>, bool)>);

impl FlowNumbers {
    /// A flow's first number: exactly one entry's worth of allocation.
    pub(super) fn one(number: &str, outbound: bool) -> Self {
        Self(vec![(number.into(), outbound)])
    }

    fn find(&self, number: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(n, _)| (**n).cmp(number))
    }

    /// Adds `number`, or sets its flag when it is already there.
    pub(super) fn insert(&mut self, number: &str, outbound: bool) {
        match self.find(number) {
            Ok(i) => {
                if let Some(e) = self.0.get_mut(i) {
                    e.1 = outbound;
                }
            }
            Err(i) => self.0.insert(i, (number.into(), outbound)),
        }
    }

    /// Takes `number` off; its flag if it was there.
    pub(super) fn remove(&mut self, number: &str) -> Option<bool> {
        let i = self.find(number).ok()?;
        Some(self.0.remove(i).1)
    }

    /// Whether `number` is outbound on the flow; `None` if it is not on it.
    pub(super) fn get(&self, number: &str) -> Option<bool> {
        self.0.get(self.find(number).ok()?).map(|e| e.1)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when any number on the flow is outbound: silence then kills it.
    pub(super) fn any_outbound(&self) -> bool {
        self.0.iter().any(|e| e.1)
    }

    /// The numbers, in order.
    pub(super) fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|e| &*e.0)
    }
}

#[cfg(test)]
mod tests {
    use super::FlowNumbers;

    #[test]
    fn a_sorted_map_of_numbers() {
        let mut n = FlowNumbers::one("200", false);
        n.insert("100", true);
        n.insert("300", false);
        n.insert("200", true);
        assert_eq!(n.keys().collect::<Vec<_>>(), ["100", "200", "300"]);
        assert_eq!(n.get("200"), Some(true));
        assert_eq!(n.get("250"), None);
        assert!(n.any_outbound());
        assert_eq!(n.remove("100"), Some(true));
        assert_eq!(n.remove("100"), None);
        assert_eq!(n.remove("200"), Some(true));
        assert!(!n.any_outbound());
        assert_eq!(n.remove("300"), Some(false));
        assert!(n.is_empty());
    }

    #[test]
    fn one_number_costs_one_entry() {
        assert_eq!(FlowNumbers::one("100", false).0.capacity(), 1);
    }
}
