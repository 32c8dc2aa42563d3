//! sopflow: standard operating procedures written in YAML, made executable.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod diagnostic;
pub mod model;
pub mod parse;
