//! The switch's log as events: `--log-format json` writes one object per line,
//! `{"level", "target", "fields": {"message", ...}}`, so a test asserts on an
//! event's fields instead of matching text.

use serde_json::Value;

/// One log event.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEvent(pub Value);

impl LogEvent {
    /// A line of the log; `None` for what is not a JSON event (a panic message, text logs).
    pub fn parse(line: &str) -> Option<LogEvent> {
        match serde_json::from_str(line) {
            Ok(v @ Value::Object(_)) => Some(LogEvent(v)),
            _ => None,
        }
    }

    /// Every event of a log, in order.
    pub fn all(log: &str) -> Vec<LogEvent> {
        log.lines().filter_map(LogEvent::parse).collect()
    }

    /// `fields.message`: the event's fixed text ("registration removed").
    pub fn message(&self) -> &str {
        self.field("message").as_str().unwrap_or_default()
    }

    /// `INFO`, `WARN`, `ERROR`, ...
    pub fn level(&self) -> &str {
        self.0.get("level").and_then(Value::as_str).unwrap_or_default()
    }

    /// A field of the event (`Null` when absent).
    pub fn field(&self, name: &str) -> &Value {
        self.0.get("fields").and_then(|f| f.get(name)).unwrap_or(&Value::Null)
    }

    /// A field as text: strings as they are, anything else (numbers, booleans) printed.
    pub fn text(&self, name: &str) -> String {
        match self.field(name) {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        }
    }

    /// The event has this message and each `(field, value)`, compared as text.
    pub fn is(&self, message: &str, fields: &[(&str, &str)]) -> bool {
        self.message() == message && fields.iter().all(|(k, v)| self.text(k) == *v)
    }
}

impl std::fmt::Display for LogEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
