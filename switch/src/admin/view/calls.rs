//! A call as listed by `switch calls --json` and `GET /api/calls`: its record
//! (per-leg packet and byte counters included) and, where there are nodes,
//! the node that carried it.

use crate::cdr::Cdr;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct CallView<'a> {
    #[serde(flatten)]
    pub call: &'a Cdr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<&'a str>,
}
