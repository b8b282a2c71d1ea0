//! vx-core: run i386 code confined to a 4 GiB window, through a same-ISA
//! binary translator.
//!
//! vx-core holds no operating-system policy. An embedder creates a
//! [`Guest`], maps memory into its window, loads code (see [`elf`]), sets
//! registers and calls [`Guest::run`], which returns a [`Trap`] whenever the
//! guest makes a system call, faults, or is preempted. The embedder handles
//! the trap and calls `run` again.
//!
//! ```
//! use vx_core::{Guest, Trap, window::pf, state::EAX};
//! let mut g = Guest::new().unwrap();
//! // mov eax, 42 ; int 0x80
//! g.map_anon(0x1000, 4096, pf::READ | pf::EXEC | pf::WRITE).unwrap();
//! g.write(0x1000, &[0xb8, 42, 0, 0, 0, 0xcd, 0x80]).unwrap();
//! g.cpu_mut().eip = 0x1000;
//! assert_eq!(g.run(), Trap::Syscall);
//! assert_eq!(g.cpu().regs[EAX], 42);
//! ```
//!
//! The design: guest memory operands are re-encoded with a GS override and
//! 32-bit address size (GS base = window base), so the hardware confines
//! every access; guest registers stay in host registers; control transfers
//! go through chained blocks and a fast indirect-branch table; host faults
//! in translated code become precise traps. See docs/ARCHITECTURE.md.
//!
//! Unsafe code lives in `window` (host mappings, raw copies), `cpu` (state
//! block and entry glue), `cache` (code memory, and the mapped file of
//! kept translations) and `sigfault` (the fault handler).

pub mod cache;
pub use cache::Snapshot;
mod cpu;
pub mod cpuid;
pub mod elf;
mod emit;
mod emulate;
mod guest;
pub mod memo;
pub mod observe;
mod rewrite;
mod sigfault;
pub mod snapfile;
pub mod state;
pub mod translate;
pub mod window;
pub mod xcache;
mod zeroed;

pub use cpu::PreemptHandle;
pub use guest::{si, CpuSnapshot, Guest, GuestStats, Trap, PAGE};
pub use window::MemFault;
