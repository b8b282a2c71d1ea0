//! File servers for vxos that need no process internals: console, null,
//! zero, random, ramfs, hostfs and friends. The `Dev` interface they serve
//! arrives with the namespace work (T3); until then this crate is empty.
#![forbid(unsafe_code)]
