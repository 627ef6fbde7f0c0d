//! The header list: names and raw values in message order. Repeated headers stay
//! in order; typed views are read on demand (see `crate::headers`).
//!
//! A parsed list keeps the message's header section as one shared buffer and
//! each value as a span of it, so parsing costs no reference count per header;
//! values added or changed later are owned strings.

use super::name::HeaderName;
use crate::text::split_top_level;
use bytestring::ByteString;
use std::fmt;

/// One header field line (after unfolding), borrowed from its [`Headers`]. The
/// value has no surrounding white space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    pub name: &'a HeaderName,
    pub value: &'a str,
}

/// A stored value: a span of the shared buffer, or a string of its own.
#[derive(Clone)]
enum Value {
    Span { start: u32, len: u32 },
    Owned(ByteString),
}

#[derive(Clone)]
struct Entry {
    name: HeaderName,
    value: Value,
}

// A parsed list must stay under 1 KiB to be served from glibc's per-thread
// cache (see `head::PARSED_CAPACITY`): keep an entry at 48 bytes.
const _: () = assert!(size_of::<Entry>() == 48);

/// Headers in the order they appeared.
#[derive(Clone, Default)]
pub struct Headers {
    /// The parsed header section the spans point into (empty when built).
    buf: ByteString,
    list: Vec<Entry>,
}

impl Value {
    #[inline]
    fn as_str<'a>(&'a self, buf: &'a str) -> &'a str {
        match self {
            Value::Span { start, len } => {
                let start = *start as usize;
                buf.get(start..start + *len as usize).unwrap_or("")
            }
            Value::Owned(s) => s,
        }
    }
}

impl Headers {
    /// An empty list with room for a typical message.
    pub fn new() -> Self {
        Self { buf: ByteString::new(), list: Vec::with_capacity(16) }
    }

    /// An empty list for the parser, which pushes spans of its buffer and then
    /// [attaches](Headers::attach) that buffer.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self { buf: ByteString::new(), list: Vec::with_capacity(capacity) }
    }

    /// Appends the value at `start..end` of `buf`, the buffer that will be
    /// attached (the range lies on char boundaries inside it).
    #[inline]
    pub(crate) fn push_span(&mut self, name: HeaderName, start: usize, end: usize, buf: &ByteString) {
        let value = match (u32::try_from(start), u32::try_from(end - start)) {
            (Ok(start), Ok(len)) => Value::Span { start, len },
            _ => Value::Owned(buf.slice_ref(buf.get(start..end).unwrap_or(""))),
        };
        self.list.push(Entry { name, value });
    }

    /// Gives the list the buffer its spans were pushed against.
    pub(crate) fn attach(&mut self, buf: ByteString) {
        self.buf = buf;
    }

    #[inline]
    fn text<'s>(&'s self, e: &'s Entry) -> &'s str {
        e.value.as_str(&self.buf)
    }

    /// A stored value as a `ByteString` (a span becomes a slice of the buffer).
    fn shared(&self, e: &Entry) -> ByteString {
        match &e.value {
            Value::Span { .. } => self.buf.slice_ref(self.text(e)),
            Value::Owned(s) => s.clone(),
        }
    }

    /// Appends a header.
    pub fn push(&mut self, name: HeaderName, value: impl Into<ByteString>) {
        self.list.push(Entry { name, value: Value::Owned(value.into()) });
    }

    /// Inserts a header before all others of any name (a new top Via, Route …).
    pub fn push_front(&mut self, name: HeaderName, value: impl Into<ByteString>) {
        self.list.insert(0, Entry { name, value: Value::Owned(value.into()) });
    }

    /// Appends a copy of `h`, a header of `from`, without copying its text: a
    /// value from `from`'s parsed buffer stays a span of it (this list adopts
    /// that buffer if it has none of its own) or becomes a slice of it.
    pub fn push_from(&mut self, from: &Headers, h: Header<'_>) {
        let value = match offset_in(&from.buf, h.value) {
            Some(start) => {
                if self.buf.is_empty() {
                    self.buf = from.buf.clone();
                }
                let same = self.buf.as_ptr() == from.buf.as_ptr() && self.buf.len() == from.buf.len();
                match (u32::try_from(start), u32::try_from(h.value.len())) {
                    (Ok(start), Ok(len)) if same => Value::Span { start, len },
                    _ => Value::Owned(from.buf.slice_ref(h.value)),
                }
            }
            None => match from.list.iter().find_map(|e| match &e.value {
                Value::Owned(s) if s.as_ptr() == h.value.as_ptr() && s.len() == h.value.len() => Some(s),
                _ => None,
            }) {
                Some(s) => Value::Owned(s.clone()),
                None => Value::Owned(ByteString::from(h.value)),
            },
        };
        self.list.push(Entry { name: h.name.clone(), value });
    }

    /// Replaces every `name` header with one value, keeping the first one's position.
    pub fn set(&mut self, name: HeaderName, value: impl Into<ByteString>) {
        let value = Value::Owned(value.into());
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
            None => self.list.push(Entry { name, value }),
        }
    }

    /// Replaces the value of the first `name` header line; appends one if absent.
    pub fn replace_first(&mut self, name: &HeaderName, value: impl Into<ByteString>) {
        match self.list.iter_mut().find(|h| h.name == *name) {
            Some(h) => h.value = Value::Owned(value.into()),
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
        let value = self.shared(self.list.get(i)?);
        let mut parts = split_top_level(&value, b',');
        let (_, first) = parts.next()?;
        let first = value.slice_ref(first);
        match parts.next() {
            Some((rest_at, _)) => {
                if let Some(header) = self.list.get_mut(i) {
                    header.value = Value::Owned(value.slice_ref(value.get(rest_at..).unwrap_or("")));
                }
            }
            None => {
                self.list.remove(i);
            }
        }
        Some(first)
    }

    /// The first value of `name`.
    pub fn get(&self, name: &HeaderName) -> Option<&str> {
        self.list.iter().find(|h| h.name == *name).map(|e| self.text(e))
    }

    /// The first value of `name` as a `ByteString` that shares the message's
    /// buffer (no copy), to move into another message.
    pub fn get_shared(&self, name: &HeaderName) -> Option<ByteString> {
        self.list.iter().find(|h| h.name == *name).map(|e| self.shared(e))
    }

    /// Every line of `name`, in order.
    pub fn get_all<'s>(&'s self, name: &'s HeaderName) -> impl Iterator<Item = &'s str> + 's {
        self.list.iter().filter(move |h| h.name == *name).map(|e| self.text(e))
    }

    /// Every line of `name` as `ByteString`s sharing the message's buffer.
    pub fn get_all_shared<'s>(&'s self, name: &'s HeaderName) -> impl Iterator<Item = ByteString> + 's {
        self.list.iter().filter(move |h| h.name == *name).map(|e| self.shared(e))
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
    pub fn iter(&self) -> HeadersIter<'_> {
        HeadersIter { buf: &self.buf, inner: self.list.iter() }
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

/// Where `s` starts in `buf`, when it lies inside it.
fn offset_in(buf: &str, s: &str) -> Option<usize> {
    let (b, p) = (buf.as_ptr() as usize, s.as_ptr() as usize);
    let start = p.checked_sub(b)?;
    (!buf.is_empty() && start + s.len() <= buf.len()).then_some(start)
}

/// Iterator returned by [`Headers::iter`].
#[derive(Clone)]
pub struct HeadersIter<'a> {
    buf: &'a ByteString,
    inner: std::slice::Iter<'a, Entry>,
}

impl<'a> Iterator for HeadersIter<'a> {
    type Item = Header<'a>;

    #[inline]
    fn next(&mut self) -> Option<Header<'a>> {
        let buf: &'a str = self.buf;
        self.inner.next().map(|e| Header { name: &e.name, value: e.value.as_str(buf) })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl DoubleEndedIterator for HeadersIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let buf: &str = self.buf;
        self.inner.next_back().map(|e| Header { name: &e.name, value: e.value.as_str(buf) })
    }
}

impl ExactSizeIterator for HeadersIter<'_> {}

impl fmt::Debug for HeadersIter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = Header<'a>;
    type IntoIter = HeadersIter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a> FromIterator<Header<'a>> for Headers {
    /// Collects copies of borrowed headers (as owned values).
    fn from_iter<T: IntoIterator<Item = Header<'a>>>(iter: T) -> Self {
        Self {
            buf: ByteString::new(),
            list: iter.into_iter().map(|h| Entry { name: h.name.clone(), value: Value::Owned(ByteString::from(h.value)) }).collect(),
        }
    }
}

/// Two lists are equal when they hold the same names and values in the same
/// order, however the values are stored.
impl PartialEq for Headers {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Headers {}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter().map(|h| (h.name, h.value))).finish()
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

    #[test]
    fn spans_read_like_owned_values() {
        let buf = ByteString::from("Via: SIP/2.0/UDP x, SIP/2.0/UDP y\r\nTo: <sip:b>\r\n");
        let mut h = Headers::with_capacity(4);
        h.push_span(HeaderName::Via, 5, 33, &buf);
        h.push_span(HeaderName::To, 39, 46, &buf);
        h.attach(buf.clone());
        let mut built = Headers::new();
        built.push(HeaderName::Via, "SIP/2.0/UDP x, SIP/2.0/UDP y");
        built.push(HeaderName::To, "<sip:b>");
        assert_eq!(h, built);
        assert_eq!(h.get(&HeaderName::To), Some("<sip:b>"));
        let to = h.get_shared(&HeaderName::To).unwrap();
        assert_eq!((to.as_ptr() as usize) - (buf.as_ptr() as usize), 39, "shares the buffer");
        let mut copy = Headers::with_capacity(2);
        copy.attach(buf.clone());
        for x in h.iter() {
            copy.push_from(&h, x);
        }
        assert_eq!(copy, built);
        let mut adopted = Headers::new();
        adopted.push(HeaderName::CallId, "x");
        adopted.push_from(&h, h.iter().nth(1).unwrap());
        adopted.push_from(&built, built.iter().next().unwrap());
        assert_eq!(adopted.get_shared(&HeaderName::To).unwrap().as_ptr(), to.as_ptr(), "a span of the adopted buffer");
        assert_eq!(adopted.get(&HeaderName::Via), Some("SIP/2.0/UDP x, SIP/2.0/UDP y"));
        assert_eq!(h.pop_first_value(&HeaderName::Via).unwrap(), "SIP/2.0/UDP x");
        assert_eq!(h.get(&HeaderName::Via), Some("SIP/2.0/UDP y"));
        let collected: Headers = built.iter().filter(|x| *x.name == HeaderName::To).collect();
        assert_eq!(collected.get(&HeaderName::To), Some("<sip:b>"));
        assert_eq!(format!("{:?}", collected), r#"[(To, "<sip:b>")]"#);
    }
}
