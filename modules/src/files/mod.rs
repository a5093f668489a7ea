//! The file modules: `file`, `copy`, `stat`, `lineinfile`, `blockinfile`,
//! `replace`, and what they share (`attrs`: modes and owners; `common`:
//! result keys, diffs, the write-then-set-attributes step).

pub mod attrs;
pub mod blockinfile;
pub mod common;
pub mod copy;
pub mod file;
pub mod lineinfile;
pub mod pyre;
pub mod replace;
pub mod stat;
