//! The header list: names and raw values in message order. Repeated headers stay
//! in order; typed views are read on demand (see `crate::headers`).

use super::name::HeaderName;
use crate::text::split_top_level;
use bytestring::ByteString;

/// One header field line (after unfolding). The value has no surrounding white space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: HeaderName,
    pub value: ByteString,
}

/// Headers in the order they appeared.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Headers {
    list: Vec<Header>,
}

impl Headers {
    /// An empty list with room for a typical message.
    pub fn new() -> Self {
        Self { list: Vec::with_capacity(16) }
    }

    /// Appends a header.
    pub fn push(&mut self, name: HeaderName, value: impl Into<ByteString>) {
        self.list.push(Header { name, value: value.into() });
    }

    /// Inserts a header before all others of any name (a new top Via, Route …).
    pub fn push_front(&mut self, name: HeaderName, value: impl Into<ByteString>) {
        self.list.insert(0, Header { name, value: value.into() });
    }

    /// Replaces every `name` header with one value, keeping the first one's position.
    pub fn set(&mut self, name: HeaderName, value: impl Into<ByteString>) {
        let value = value.into();
        match self.list.iter().position(|h| h.name == name) {
            Some(i) => {
                if let Some(h) = self.list.get_mut(i) {
                    h.value = value;
                }
                let mut seen = 0usize;
                self.list.retain(|h| {
                    if h.name != name {
                        return true;
                    }
                    seen += 1;
                    seen == 1
                });
            }
            None => self.push(name, value),
        }
    }

    /// Replaces the value of the first `name` header line; appends one if absent.
    pub fn replace_first(&mut self, name: &HeaderName, value: impl Into<ByteString>) {
        match self.list.iter_mut().find(|h| h.name == *name) {
            Some(h) => h.value = value.into(),
            None => self.push(name.clone(), value),
        }
    }

    /// Removes every `name` header; returns how many were removed.
    pub fn remove(&mut self, name: &HeaderName) -> usize {
        let before = self.list.len();
        self.list.retain(|h| h.name != *name);
        before - self.list.len()
    }

    /// Removes and returns the first value of `name`'s first header line (the
    /// first element of a comma-joined list, as a proxy pops its own Via/Route).
    pub fn pop_first_value(&mut self, name: &HeaderName) -> Option<ByteString> {
        let i = self.list.iter().position(|h| h.name == *name)?;
        let header = self.list.get_mut(i)?;
        let value = header.value.clone();
        let mut parts = split_top_level(&value, b',');
        let (_, first) = parts.next()?;
        let first = value.slice_ref(first);
        match parts.next() {
            Some((rest_at, _)) => header.value = value.slice_ref(value.get(rest_at..).unwrap_or("")),
            None => {
                self.list.remove(i);
            }
        }
        Some(first)
    }

    /// The first value of `name`.
    pub fn get(&self, name: &HeaderName) -> Option<&ByteString> {
        self.list.iter().find(|h| h.name == *name).map(|h| &h.value)
    }

    /// Every line of `name`, in order.
    pub fn get_all<'s>(&'s self, name: &'s HeaderName) -> impl Iterator<Item = &'s ByteString> + 's {
        self.list.iter().filter(move |h| h.name == *name).map(|h| &h.value)
    }

    /// Every element of a comma-joined header (Via, Contact, Route, Record-Route,
    /// Path, Allow, Supported, Require …) across all of its lines, in order.
    pub fn values<'s>(&'s self, name: &'s HeaderName) -> impl Iterator<Item = &'s str> + 's {
        self.get_all(name).flat_map(|v| split_top_level(v, b',').map(|(_, p)| p))
    }

    /// True when at least one `name` header is present.
    pub fn contains(&self, name: &HeaderName) -> bool {
        self.list.iter().any(|h| h.name == *name)
    }

    /// All header lines in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Header> {
        self.list.iter()
    }

    /// Number of header lines.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// True when there are no headers.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = &'a Header;
    type IntoIter = std::slice::Iter<'a, Header>;
    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}

impl FromIterator<Header> for Headers {
    fn from_iter<T: IntoIterator<Item = Header>>(iter: T) -> Self {
        Self { list: iter.into_iter().collect() }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn values_span_lines_and_commas_in_order() {
        let mut h = Headers::new();
        h.push(HeaderName::Route, "<sip:a;lr>, <sip:b;lr>");
        h.push(HeaderName::Via, "SIP/2.0/UDP x");
        h.push(HeaderName::Route, "<sip:c;lr>");
        let v: Vec<_> = h.values(&HeaderName::Route).collect();
        assert_eq!(v, ["<sip:a;lr>", "<sip:b;lr>", "<sip:c;lr>"]);
        assert_eq!(h.pop_first_value(&HeaderName::Route).unwrap(), "<sip:a;lr>");
        assert_eq!(h.get(&HeaderName::Route).unwrap(), "<sip:b;lr>");
        assert_eq!(h.pop_first_value(&HeaderName::Route).unwrap(), "<sip:b;lr>");
        assert_eq!(h.get(&HeaderName::Route).unwrap(), "<sip:c;lr>");
        h.set(HeaderName::Via, "SIP/2.0/TCP y");
        assert_eq!(h.len(), 2);
    }
}
