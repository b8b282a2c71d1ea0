//! A minimal embedder of vx-core: load a static i386 ELF, give it a stack,
//! and serve the few system calls a static glibc program cannot do without
//! (write, writev, exit, brk, mprotect, set_thread_area). Everything else gets
//! ENOSYS. This is the whole contract between vx-core and a kernel.
//!
//!   cargo run --release -p vx-core --example embed -- build/bin/hello
//!
//! (glibc programs make more calls than these two; they still print, since
//! glibc copes with ENOSYS for the rest.)

use vx_core::elf::{Elf, PT_LOAD};
use vx_core::state::*;
use vx_core::window::pf;
use vx_core::{Guest, Trap};

fn main() {
    let path = std::env::args().nth(1).expect("usage: embed PROGRAM");
    let file = std::fs::read(&path).expect("read program");
    let elf = Elf::parse(&file).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut g = Guest::new().expect("guest");

    // Segments, made writable while we copy them in.
    for p in elf.phdrs.iter().filter(|p| p.p_type == PT_LOAD) {
        let start = p.vaddr & !0xfff;
        let end = (p.vaddr as u64 + p.memsz as u64).next_multiple_of(0x1000);
        g.map_anon(start, end - start as u64, pf::READ | pf::WRITE | pf::EXEC).unwrap();
        g.write(p.vaddr, &file[p.offset as usize..(p.offset + p.filesz) as usize]).unwrap();
    }
    // A stack holding argc = 1, argv = { "prog", NULL }, envp = { NULL } and
    // an auxiliary vector with the 16 random bytes glibc's stack guard needs.
    let top = 0xc000_0000u32;
    g.map_anon(top - 0x10_0000, 0x10_0000, pf::READ | pf::WRITE).unwrap();
    g.write(top - 16, b"prog\0").unwrap();
    g.write(top - 32, b"0123456789abcdef").unwrap();
    let sp = top - 64;
    const AT_RANDOM: u32 = 25;
    for (i, w) in [1, top - 16, 0, 0, AT_RANDOM, top - 32, 0, 0].iter().enumerate() {
        g.write_u32(sp + 4 * i as u32, *w).unwrap();
    }
    g.cpu_mut().regs[ESP] = sp;
    g.cpu_mut().eip = elf.entry;

    let mut brk = 0x2000_0000u32;
    loop {
        match g.run() {
            Trap::Syscall => {
                let r = g.cpu().regs;
                let ret = match r[EAX] {
                    1 | 252 => std::process::exit(r[EBX] as i32), // exit, exit_group
                    4 => {
                        // write(fd, buf, len): copy out of the guest, checked.
                        let mut buf = vec![0u8; r[EDX].min(1 << 20) as usize];
                        match g.read(r[ECX], &mut buf) {
                            Ok(()) if r[EBX] == 1 || r[EBX] == 2 => {
                                use std::io::Write;
                                let _ = std::io::stdout().write_all(&buf);
                                buf.len() as u32
                            }
                            Ok(()) => -9i32 as u32,  // EBADF
                            Err(_) => -14i32 as u32, // EFAULT
                        }
                    }
                    146 => {
                        // writev(fd, iov, n): gather the pieces, then write.
                        let mut out = Vec::new();
                        for k in 0..r[EDX].min(64) {
                            let base = g.read_u32(r[ECX] + 8 * k).unwrap_or(0);
                            let len = g.read_u32(r[ECX] + 8 * k + 4).unwrap_or(0).min(1 << 20);
                            let mut piece = vec![0u8; len as usize];
                            if g.read(base, &mut piece).is_ok() {
                                out.extend_from_slice(&piece);
                            }
                        }
                        use std::io::Write;
                        let _ = std::io::stdout().write_all(&out);
                        out.len() as u32
                    }
                    125 => 0, // mprotect: everything is already accessible
                    45 => {
                        // brk: grow a heap for malloc
                        let want = r[EBX];
                        if want > brk {
                            let end = (want as u64).next_multiple_of(0x1000) as u32;
                            let start = (brk as u64).next_multiple_of(0x1000) as u32;
                            if end > start {
                                g.map_anon(start, (end - start) as u64, pf::READ | pf::WRITE).unwrap();
                            }
                            brk = want;
                        }
                        brk
                    }
                    243 => {
                        // set_thread_area(&desc): glibc's TLS lives behind %gs.
                        let d = r[EBX];
                        let base = g.read_u32(d + 4).unwrap();
                        g.write_u32(d, 12).unwrap();
                        g.set_tls(12, TlsDesc { base, limit: 0xfffff, flags: 0x51, present: true });
                        0
                    }
                    n => {
                        if std::env::var_os("EMBED_TRACE").is_some() {
                            eprintln!("embed: system call {n} -> ENOSYS");
                        }
                        -38i32 as u32 // ENOSYS
                    }
                };
                g.cpu_mut().regs[EAX] = ret;
            }
            Trap::Preempted => {}
            t => {
                eprintln!("embed: guest stopped: {t:?} at eip {:#x}", g.cpu().eip);
                std::process::exit(1);
            }
        }
    }
}
