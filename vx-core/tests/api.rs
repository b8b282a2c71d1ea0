//! vx-core's embedding API on small hand-assembled guests: system call
//! traps, preemption of a busy loop, precise page faults, signals, guest
//! memory access, TLS segments and self-modifying code.

use vx_core::state::*;
use vx_core::window::pf;
use vx_core::{Guest, Trap};

const CODE: u32 = 0x0804_8000;
const DATA: u32 = 0x0900_0000;

fn guest(code: &[u8]) -> Guest {
    let mut g = Guest::new().unwrap();
    g.map_anon(CODE, 0x1000, pf::READ | pf::WRITE | pf::EXEC).unwrap();
    g.map_anon(DATA, 0x10000, pf::READ | pf::WRITE).unwrap();
    g.write(CODE, code).unwrap();
    let st = g.cpu_mut();
    st.eip = CODE;
    st.regs[ESP] = DATA + 0x10000;
    g
}

#[test]
fn syscall_trap_and_resume() {
    // mov eax, 20 ; int 0x80 ; mov ebx, eax ; int 0x80
    let mut g = guest(&[0xb8, 20, 0, 0, 0, 0xcd, 0x80, 0x89, 0xc3, 0xcd, 0x80]);
    assert_eq!(g.run(), Trap::Syscall);
    assert_eq!(g.cpu().regs[EAX], 20);
    assert_eq!(g.cpu().eip, CODE + 7);
    g.cpu_mut().regs[EAX] = 1234;
    assert_eq!(g.run(), Trap::Syscall);
    assert_eq!(g.cpu().regs[EBX], 1234);
}

#[test]
fn preempts_a_busy_loop() {
    // inc ecx ; jmp $-3
    let mut g = guest(&[0x41, 0xeb, 0xfd]);
    let h = g.preempt_handle();
    let t = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(50));
        h.request();
    });
    assert_eq!(g.run(), Trap::Preempted);
    t.join().unwrap();
    let (eip, ecx) = (g.cpu().eip, g.cpu().regs[ECX]);
    assert!(eip == CODE || eip == CODE + 1, "eip {eip:#x}");
    assert!(ecx > 1000, "the loop ran: ecx {ecx}");
    // It resumes where it stopped and can be preempted again.
    let h = g.preempt_handle();
    let t = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(20));
        h.request();
    });
    assert_eq!(g.run(), Trap::Preempted);
    t.join().unwrap();
    assert!(g.cpu().regs[ECX] > ecx);
}

#[test]
fn page_fault_is_precise() {
    // mov eax, 7 ; mov ebx, [0x12345678] ; int 0x80
    let mut g = guest(&[0xb8, 7, 0, 0, 0, 0x8b, 0x1d, 0x78, 0x56, 0x34, 0x12, 0xcd, 0x80]);
    match g.run() {
        Trap::PageFault { addr, write, mapped, .. } => {
            assert_eq!(addr, 0x1234_5678);
            assert!(!write && !mapped);
        }
        t => panic!("{t:?}"),
    }
    assert_eq!(g.cpu().eip, CODE + 5, "eip of the faulting instruction");
    assert_eq!(g.cpu().regs[EAX], 7, "the instruction before it completed");
    // Map the page and resume: the load is retried.
    g.map_anon(0x1234_5000, 0x1000, pf::READ | pf::WRITE).unwrap();
    g.write(0x1234_5678, &99u32.to_le_bytes()).unwrap();
    assert_eq!(g.run(), Trap::Syscall);
    assert_eq!(g.cpu().regs[EBX], 99);
}

#[test]
fn write_to_read_only_page_is_accerr() {
    // mov [DATA], eax
    let mut code = vec![0xa3];
    code.extend_from_slice(&DATA.to_le_bytes());
    let mut g = guest(&code);
    g.protect(DATA, 0x1000, pf::READ).unwrap();
    match g.run() {
        Trap::PageFault { addr, write, mapped, .. } => assert!(addr == DATA && write && mapped),
        t => panic!("{t:?}"),
    }
}

#[test]
fn push_fault_leaves_esp_alone() {
    // push eax with esp at the bottom of the mapped stack area
    let mut g = guest(&[0x50]);
    g.cpu_mut().regs[ESP] = DATA;
    assert!(matches!(g.run(), Trap::PageFault { write: true, .. }));
    assert_eq!(g.cpu().regs[ESP], DATA);
    assert_eq!(g.cpu().eip, CODE);
}

#[test]
fn fault_inside_a_push_run_is_precise() {
    // push eax; push ebx; push 7; push ecx; int 0x80 with esp 8 bytes above
    // the bottom of the mapped area: the third push faults.
    let mut g = guest(&[0x50, 0x53, 0x6a, 0x07, 0x51, 0xcd, 0x80]);
    let st = g.cpu_mut();
    st.regs[ESP] = DATA + 8;
    (st.regs[EAX], st.regs[EBX], st.regs[ECX]) = (1, 2, 3);
    assert!(matches!(g.run(), Trap::PageFault { write: true, .. }));
    assert_eq!(g.cpu().eip, CODE + 2, "eip of push 7");
    assert_eq!(g.cpu().regs[ESP], DATA, "after two pushes");
    assert_eq!(g.read_u32(DATA + 4).unwrap(), 1);
    assert_eq!(g.read_u32(DATA).unwrap(), 2);
    g.map_anon(DATA - 0x1000, 0x1000, pf::READ | pf::WRITE).unwrap();
    assert_eq!(g.run(), Trap::Syscall);
    assert_eq!(g.cpu().regs[ESP], DATA - 8);
    assert_eq!(g.read_u32(DATA - 4).unwrap(), 7);
    assert_eq!(g.read_u32(DATA - 8).unwrap(), 3);
}

#[test]
fn fault_inside_a_pop_run_is_precise() {
    // pop eax; pop ebx; pop ecx; int 0x80 with esp 8 bytes below the end
    // of the mapped area: the third pop faults.
    let mut g = guest(&[0x58, 0x5b, 0x59, 0xcd, 0x80]);
    g.write(DATA + 0xfff8, &[5, 0, 0, 0, 6, 0, 0, 0]).unwrap();
    g.cpu_mut().regs[ESP] = DATA + 0xfff8;
    assert!(matches!(g.run(), Trap::PageFault { write: false, .. }));
    assert_eq!(g.cpu().eip, CODE + 2, "eip of pop ecx");
    assert_eq!(g.cpu().regs[ESP], DATA + 0x10000, "after two pops");
    assert_eq!((g.cpu().regs[EAX], g.cpu().regs[EBX]), (5, 6));
}

#[test]
fn signals_like_linux() {
    // 32-bit code's fast system call that the host's maker lacks: #UD.
    let missing = if vx_core::cpuid::host_is_amd() { vec![0x0f, 0x34] } else { vec![0x0f, 0x05] };
    for (code, signo) in [
        (vec![0x0f, 0x0b], libc::SIGILL),                 // ud2
        (vec![0xcc], libc::SIGTRAP),                      // int3
        (vec![0xf4], libc::SIGSEGV),                      // hlt
        (vec![0x31, 0xc9, 0xf7, 0xf1], libc::SIGFPE),     // xor ecx,ecx ; div ecx
        (missing, libc::SIGILL),                          // sysenter or syscall
        (vec![0xcd, 0x81], libc::SIGSEGV),                // int 0x81
        (vec![0xea, 0, 0, 0, 0, 0x33, 0], libc::SIGSEGV), // jmp far 0x33:0
    ] {
        let mut g = guest(&code);
        match g.run() {
            Trap::Signal { signo: s, .. } => assert_eq!(s, signo, "{code:x?}"),
            t => panic!("{code:x?}: {t:?}"),
        }
    }
}

#[test]
fn tls_segment_reaches_its_base() {
    // mov gs, ax (ax = 0x63) ; mov eax, gs:[0x10] ; int 0x80
    let mut g = guest(&[0x8e, 0xe8, 0x65, 0xa1, 0x10, 0, 0, 0, 0xcd, 0x80]);
    assert!(g.set_tls(12, TlsDesc { base: DATA + 0x100, limit: 0xfffff, flags: 0x51, present: true }));
    g.write(DATA + 0x110, &0xfeed_beefu32.to_le_bytes()).unwrap();
    g.cpu_mut().regs[EAX] = 0x63;
    assert_eq!(g.run(), Trap::Syscall);
    assert_eq!(g.cpu().regs[EAX], 0xfeed_beef);
}

#[test]
fn rewriting_translated_code_takes_effect() {
    // loop: mov eax, 1 ; int 0x80 ; jmp loop
    let mut g = guest(&[0xb8, 1, 0, 0, 0, 0xcd, 0x80, 0xeb, 0xf7]);
    assert_eq!(g.run(), Trap::Syscall);
    assert_eq!(g.cpu().regs[EAX], 1);
    g.write(CODE + 1, &[2]).unwrap(); // the kernel writes: mov eax, 2
    assert_eq!(g.run(), Trap::Syscall);
    assert_eq!(g.cpu().regs[EAX], 2);
    // The guest writes its own code: mov byte [CODE+1], 3 ; jmp CODE
    g.write(CODE + 0x20, &[0xc6, 0x05]).unwrap();
    g.write(CODE + 0x22, &(CODE + 1).to_le_bytes()).unwrap();
    g.write(CODE + 0x26, &[3, 0xe9]).unwrap();
    g.write(CODE + 0x28, &(CODE.wrapping_sub(CODE + 0x2c)).to_le_bytes()).unwrap();
    g.cpu_mut().eip = CODE + 0x20;
    assert_eq!(g.run(), Trap::Syscall);
    assert_eq!(g.cpu().regs[EAX], 3);
    assert!(g.stats().smc_faults >= 1);
}

#[test]
fn guest_memory_checks_permissions() {
    let mut g = guest(&[0x90]);
    assert!(g.write(0x100, &[1]).is_err(), "unmapped");
    g.protect(DATA, 0x1000, pf::READ).unwrap();
    assert!(g.write(DATA, &[1]).is_err(), "read-only");
    let mut b = [0u8; 4];
    assert!(g.read(DATA, &mut b).is_ok());
    assert!(g.read(0xffff_fffe, &mut b).is_err(), "wraps past 4 GiB");
}

/// Translations set aside with their page (a kept guest's, see
/// `Guest::park`) cannot run while the page is hidden, and run again
/// without being translated again once it is shown; forgotten ones are
/// translated afresh.
#[test]
fn parked_code_runs_only_once_shown() {
    // loop: mov eax, 7 ; int 0x80 ; jmp loop
    let mut g = guest(&[0xb8, 7, 0, 0, 0, 0xcd, 0x80, 0xeb, 0xf7]);
    assert_eq!(g.run(), Trap::Syscall);
    assert_eq!(g.run(), Trap::Syscall);
    g.park(CODE, 0x1000);
    assert_eq!(g.window().page_flags(CODE) & pf::MAPPED, 0, "reads as unmapped");
    let mut b = [0u8; 1];
    assert!(g.read(CODE, &mut b).is_err());
    g.cpu_mut().eip = CODE;
    match g.run() {
        Trap::PageFault { addr, exec: true, mapped: false, .. } => assert_eq!(addr, CODE),
        t => panic!("hidden code ran: {t:?}"),
    }
    // (The attempt counts as a translation; it is not kept.)
    let blocks = g.stats().cache.blocks;
    g.unpark(CODE, 0x1000, Some(pf::READ | pf::WRITE | pf::EXEC), true);
    g.cpu_mut().eip = CODE;
    g.cpu_mut().regs[EAX] = 0;
    assert_eq!(g.run(), Trap::Syscall);
    assert_eq!(g.cpu().regs[EAX], 7);
    assert_eq!(g.run(), Trap::Syscall);
    assert_eq!(g.stats().cache.blocks, blocks, "nothing translated again");
    // Set aside and forgotten: shown again, the page is translated afresh
    // (from what it holds now).
    g.park(CODE, 0x1000);
    g.discard_parked(CODE >> 12);
    g.unpark(CODE, 0x1000, Some(pf::READ | pf::WRITE | pf::EXEC), true);
    g.write(CODE + 1, &[9]).unwrap();
    g.cpu_mut().eip = CODE;
    assert_eq!(g.run(), Trap::Syscall);
    assert_eq!(g.cpu().regs[EAX], 9);
    assert!(g.stats().cache.blocks > blocks);
}
