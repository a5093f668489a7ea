//! Playbooks: the data model and its loader. Parse, then run: the runner
//! never sees a YAML type.

pub mod keywords;
pub mod load;
pub mod model;
pub mod validate;
