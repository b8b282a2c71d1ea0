//! File servers for vxos that need no process internals. Each is a `Dev`
//! (see `dev.rs`, Plan 9's device table as a Rust trait); the kernel's
//! namespaces decide where they appear.
#![forbid(unsafe_code)]

pub mod cons;
pub mod dev;
pub mod dirtab;
pub mod env;
pub mod hostfs;
pub mod ldisc;
pub mod names;
pub mod perm;
pub mod ramfs;
pub mod root;
pub mod simple;
pub mod sparse;

pub use dev::{Cred, Dev, DirEntry, Errno, FileType, OpenMode, Qid, Stat, Time, Wstat};
pub use dirtab::{makedev, DirTab};
pub use ramfs::Ramfs;
pub use simple::Null;
