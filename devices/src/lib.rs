//! File servers for vxos that need no process internals. Each is a `Dev`
//! (see `dev.rs`, Plan 9's device table as a Rust trait); the kernel's
//! namespaces decide where they appear.
#![forbid(unsafe_code)]

pub mod dev;
pub mod hostfs;

pub use dev::{Cred, Dev, DirEntry, Errno, FileType, OpenMode, Qid, Stat, Time, Wstat};
