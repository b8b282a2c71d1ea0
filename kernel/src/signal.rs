//! Signal delivery as Linux i386 does it.
//!
//! Before a process returns to its guest, the lowest pending signal it
//! does not block is acted on: the default action (terminate, ignore; stop
//! and continue are not kept yet), or a handler. For a handler the kernel
//! pushes a frame on the guest's stack (or its alternate signal stack)
//! holding the interrupted registers, FPU state and signal mask, points
//! the guest at the handler with the return address set to the restorer,
//! and blocks the signals the handler asked for. The restorer calls
//! sigreturn (legacy frames) or rt_sigreturn (SA_SIGINFO frames), which
//! put everything back, as the guest may have changed it.
//!
//! Frame layouts are the i386 ones (arch/x86/include/asm/sigframe.h):
//!
//! ```text
//! sigframe:    pretcode sig sigcontext[88] fpstate_unused[624] extramask retcode[8]
//! rt_sigframe: pretcode sig pinfo puc siginfo[128] ucontext[116] retcode[8]
//! ```
//!
//! followed by the FPU state (the legacy 112-byte header, then the 512-byte
//! fxsave image).

use crate::errno::{Errno, SysResult};
use crate::process::{ExitStatus, Process};
use vx_core::state::*;

pub const SIGKILL: u32 = 9;
pub const SIGSTOP: u32 = 19;
pub const SIGPIPE: u32 = 13;

pub const SA_SIGINFO: u32 = 4;
pub const SA_ONSTACK: u32 = 0x0800_0000;
pub const SA_RESTART: u32 = 0x1000_0000;
pub const SA_NODEFER: u32 = 0x4000_0000;
pub const SA_RESETHAND: u32 = 0x8000_0000;
pub const SA_RESTORER: u32 = 0x0400_0000;

/// si_code values.
pub const SI_USER: i32 = 0;
pub const SI_KERNEL: i32 = 0x80;
pub const SI_TKILL: i32 = -6;

/// The bit of signal `s` in a mask.
pub fn bit(s: u32) -> u64 {
    1u64 << (s - 1)
}

/// Signals that can be neither caught, blocked nor ignored.
pub const UNBLOCKABLE: u64 = 1 << 8 | 1 << 18;

/// What Linux's default action for a signal is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Default {
    Terminate,
    Ignore,
    Stop,
    Continue,
}

/// The default action of signal `s`.
pub fn default_action(s: u32) -> Default {
    match s {
        17 | 23 | 28 => Default::Ignore, // SIGCHLD, SIGURG, SIGWINCH
        18 => Default::Continue,         // SIGCONT
        19..=22 => Default::Stop,        // SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU
        32..=64 if s < 34 => Default::Ignore,
        _ => Default::Terminate,
    }
}

/// What a signal carries to a SA_SIGINFO handler (compat_siginfo_t).
#[derive(Debug, Clone, Copy, Default)]
pub struct SigInfo {
    pub signo: u32,
    pub code: i32,
    /// si_pid and si_uid (kill), or si_addr in `pid` (faults).
    pub pid: u32,
    pub uid: u32,
    /// si_status for SIGCHLD, the fault address for SIGSEGV/SIGBUS.
    pub value: u32,
    /// The processor's exception number and error code, for sigcontext.
    pub trapno: u32,
    pub err: u32,
}

impl SigInfo {
    /// A signal sent by `pid` as user `uid` (kill).
    pub fn user(signo: u32, pid: u32, uid: u32) -> SigInfo {
        SigInfo { signo, code: SI_USER, pid, uid, ..std::default::Default::default() }
    }

    /// A fault at `addr` with si_code `code`, raised by exception
    /// `trapno` with error code `err`.
    pub fn fault(signo: u32, code: i32, addr: u32, trapno: u32, err: u32) -> SigInfo {
        SigInfo { signo, code, pid: addr, trapno, err, ..std::default::Default::default() }
    }

    fn bytes(&self) -> [u8; 128] {
        let mut b = [0u8; 128];
        b[0..4].copy_from_slice(&self.signo.to_le_bytes());
        b[8..12].copy_from_slice(&self.code.to_le_bytes());
        b[12..16].copy_from_slice(&self.pid.to_le_bytes());
        b[16..20].copy_from_slice(&self.uid.to_le_bytes());
        b[20..24].copy_from_slice(&self.value.to_le_bytes());
        b
    }
}

/// What a signal sent by another process (or the kernel) carries until
/// it is taken.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sent {
    pub code: i32,
    pub pid: u32,
    pub uid: u32,
    pub status: u32,
}

/// A process's alternate signal stack (sigaltstack).
#[derive(Debug, Clone, Copy, Default)]
pub struct AltStack {
    pub sp: u32,
    pub size: u32,
    /// SS_DISABLE (2) when there is none.
    pub flags: u32,
}

pub const SS_ONSTACK: u32 = 1;
pub const SS_DISABLE: u32 = 2;

impl AltStack {
    pub fn disabled() -> AltStack {
        AltStack { sp: 0, size: 0, flags: SS_DISABLE }
    }

    /// Report whether `esp` is on this stack.
    pub fn holds(&self, esp: u32) -> bool {
        self.flags & SS_DISABLE == 0 && esp.wrapping_sub(self.sp) < self.size
    }
}

const SIGCONTEXT: usize = 88;
const FPSTATE: usize = 624;
const SIGFRAME: usize = 4 + 4 + SIGCONTEXT + FPSTATE + 4 + 8;
const UCONTEXT: usize = 4 + 4 + 12 + SIGCONTEXT + 8;
const RT_SIGFRAME: usize = 16 + 128 + UCONTEXT + 8;

/// Build the sigcontext of the guest's registers, with `mask` as oldmask
/// and `fpstate` the address of the saved FPU state.
fn sigcontext(p: &Process, mask: u64, fpstate: u32, info: &SigInfo) -> [u8; SIGCONTEXT] {
    let c = p.guest.cpu();
    let mut b = [0u8; SIGCONTEXT];
    let mut put = |o: usize, v: u32| b[o..o + 4].copy_from_slice(&v.to_le_bytes());
    put(0, c.seg_sel[5]); // gs
    put(4, c.seg_sel[4]); // fs
    put(8, c.seg_sel[0]); // es
    put(12, c.seg_sel[3]); // ds
    for (o, r) in [(16, EDI), (20, ESI), (24, EBP), (28, ESP), (32, EBX), (36, EDX), (40, ECX), (44, EAX)] {
        put(o, c.regs[r]);
    }
    put(48, info.trapno);
    put(52, info.err);
    put(56, c.eip);
    put(60, c.seg_sel[1]); // cs
    put(64, c.eflags);
    put(68, c.regs[ESP]);
    put(72, c.seg_sel[2]); // ss
    put(76, fpstate);
    put(80, mask as u32);
    put(84, if info.trapno == 14 { info.pid } else { 0 });
    b
}

/// The FPU state as the frame holds it: the legacy header, then fxsave.
fn fpstate(p: &Process) -> [u8; FPSTATE] {
    let mut b = [0u8; FPSTATE];
    let fx = p.guest.cpu().fx.0;
    // Legacy header: control, status and (all empty) tag words.
    b[0..2].copy_from_slice(&fx[0..2]);
    b[4..6].copy_from_slice(&fx[2..4]);
    b[8..12].copy_from_slice(&0xffffu32.to_le_bytes());
    // magic 0: the fxsave image follows.
    b[112..112 + 512].copy_from_slice(&fx);
    b
}

/// The exception behind a synchronous signal, as the processor would have
/// reported it: (trapno, error code), from the instruction at or before
/// `eip` (`bytes` are the 16 bytes from eip - 2).
pub fn exception_of(signo: u32, code: i32, bytes: &[u8; 16]) -> (u32, u32) {
    let at = &bytes[2..];
    match signo {
        8 => (0, 0),  // #DE (SIGFPE from integer division)
        4 => (6, 0),  // #UD
        7 => (17, 0), // #AC
        5 => (3, 0),  // int3 (a trap: eip is past it)
        11 if code == SI_KERNEL => {
            if bytes[1] == 0xce || bytes[0..2] == [0xcd, 0x04] {
                (4, 0) // into / int $4: #OF, a trap
            } else if at[0] == 0x62 {
                (5, 0) // bound: #BR
            } else if at[0] == 0xcd {
                (13, (at[1] as u32) << 3 | 2) // int n without the privilege: #GP on the IDT entry
            } else {
                (13, 0)
            }
        }
        _ => (0, 0),
    }
}

impl Process {
    /// Act on the lowest pending signal not blocked, if any. Returns
    /// whether one was acted on (then the process may have ended).
    pub fn deliver_signal(&mut self) -> bool {
        let ready = self.pending & !self.sigmask;
        if ready == 0 {
            return false;
        }
        let sig = ready.trailing_zeros() + 1;
        self.pending &= !bit(sig);
        let info = self.sig_info[sig as usize].take().unwrap_or(SigInfo::user(sig, 0, 0));
        let act = self.sigactions[sig as usize];
        if crate::trace::on(crate::trace::SIGNAL) {
            crate::trace::delivered(self, &info, act.handler);
        }
        let restart = std::mem::take(&mut self.restart);
        match act.handler {
            0 => match default_action(sig) {
                Default::Terminate => self.exit = Some(ExitStatus::Signal(sig as i32)),
                Default::Stop => {
                    self.finish_restart(restart);
                    // SIGTSTP, SIGTTIN and SIGTTOU do not stop an orphaned
                    // process group.
                    let pgid = crate::proctab::get(self.pid).map_or(self.pid, |e| e.pgid);
                    if sig == SIGSTOP || !crate::proctab::pgrp_orphaned(pgid) {
                        self.stop(sig);
                    }
                }
                _ => self.finish_restart(restart),
            },
            1 => self.finish_restart(restart),
            h => {
                if let Some(nr) = restart {
                    if act.flags & SA_RESTART != 0 {
                        self.rewind_syscall(nr);
                    } else {
                        self.guest.cpu_mut().regs[EAX] = (-(Errno::EINTR as i32)) as u32;
                    }
                }
                let old = self.saved_mask.take().unwrap_or(self.sigmask);
                if self.push_frame(sig, h, &act, old, &info).is_err() {
                    // No room for the frame: Linux kills with SIGSEGV.
                    self.exit = Some(ExitStatus::Signal(11));
                    return true;
                }
                self.sigmask |= act.mask & !UNBLOCKABLE;
                if act.flags & SA_NODEFER == 0 {
                    self.sigmask |= bit(sig);
                }
                if act.flags & SA_RESETHAND != 0 {
                    self.sigactions[sig as usize] = crate::process::SigAction::default();
                }
            }
        }
        true
    }

    /// Stop for signal `sig` until SIGCONT (or SIGKILL, or the end of the
    /// process).
    fn stop(&mut self, sig: u32) {
        if !crate::proctab::stop(self.pid, sig) {
            return;
        }
        self.wait_while_stopped();
        // What ended the stop (SIGKILL, SIGCONT) is acted on before the
        // guest runs again.
        self.take_signals();
    }

    /// Sleep while the process is stopped (then take back this thread's
    /// CPU state, which another thread may have had meanwhile).
    pub fn wait_while_stopped(&mut self) {
        while crate::proctab::is_stopped(self.pid) {
            let killed = [self.tid, self.pid]
                .iter()
                .any(|&id| crate::proctab::get(id).is_some_and(|e| e.pending & bit(SIGKILL) != 0));
            if killed || crate::proctab::group_exiting(self.pid).is_some() {
                break;
            }
            crate::sched::sleep(crate::proctab::stop_chan(self.pid));
        }
        self.own_cpu();
    }

    /// A system call interrupted for a signal that was not handled after
    /// all: run it again.
    fn finish_restart(&mut self, restart: Option<u32>) {
        if let Some(nr) = restart {
            self.rewind_syscall(nr);
        }
    }

    /// Make the guest issue system call `nr` again (int 0x80 is 2 bytes).
    fn rewind_syscall(&mut self, nr: u32) {
        let c = self.guest.cpu_mut();
        c.regs[EAX] = nr;
        c.eip = c.eip.wrapping_sub(2);
    }

    /// Push a signal frame for handler `h` and point the guest at it.
    fn push_frame(
        &mut self,
        sig: u32,
        h: u32,
        act: &crate::process::SigAction,
        oldmask: u64,
        info: &SigInfo,
    ) -> Result<(), Errno> {
        let esp = self.guest.cpu().regs[ESP];
        let mut sp = esp;
        if act.flags & SA_ONSTACK != 0 && self.altstack.flags & SS_DISABLE == 0 && !self.altstack.holds(esp) {
            sp = self.altstack.sp.wrapping_add(self.altstack.size);
        }
        // The FPU state first, 64-byte aligned, then the frame below it.
        let fp_addr = (sp - FPSTATE as u32) & !63;
        let fp = fpstate(self);
        let rt = act.flags & SA_SIGINFO != 0;
        let size = if rt { RT_SIGFRAME } else { SIGFRAME } as u32;
        // As Linux: ((sp - size) & -16) - 4, so the handler sees the stack
        // aligned as after a call.
        let frame = ((fp_addr - size) & !15) - 4;
        let restorer_given = act.flags & SA_RESTORER != 0;
        let mut f = vec![0u8; size as usize];
        let put = |f: &mut Vec<u8>, o: usize, v: u32| f[o..o + 4].copy_from_slice(&v.to_le_bytes());
        let sc = sigcontext(self, oldmask, fp_addr, info);
        if rt {
            let retcode = frame + RT_SIGFRAME as u32 - 8;
            put(&mut f, 0, if restorer_given { act.restorer } else { retcode });
            put(&mut f, 4, sig);
            put(&mut f, 8, frame + 16);
            put(&mut f, 12, frame + 144);
            f[16..144].copy_from_slice(&info.bytes());
            // ucontext: flags, link, stack, mcontext, sigmask.
            let uc = 144;
            put(&mut f, uc, 0);
            put(&mut f, uc + 4, 0);
            put(&mut f, uc + 8, self.altstack.sp);
            let ss_flags = if self.altstack.flags & SS_DISABLE != 0 {
                SS_DISABLE
            } else if self.altstack.holds(esp) {
                SS_ONSTACK
            } else {
                0
            };
            put(&mut f, uc + 12, ss_flags);
            put(&mut f, uc + 16, self.altstack.size);
            f[uc + 20..uc + 20 + SIGCONTEXT].copy_from_slice(&sc);
            put(&mut f, uc + 20 + SIGCONTEXT, oldmask as u32);
            put(&mut f, uc + 24 + SIGCONTEXT, (oldmask >> 32) as u32);
            // movl $173, %eax; int $0x80
            f[RT_SIGFRAME - 8..RT_SIGFRAME - 1].copy_from_slice(&[0xb8, 173, 0, 0, 0, 0xcd, 0x80]);
        } else {
            let retcode = frame + SIGFRAME as u32 - 8;
            put(&mut f, 0, if restorer_given { act.restorer } else { retcode });
            put(&mut f, 4, sig);
            f[8..8 + SIGCONTEXT].copy_from_slice(&sc);
            put(&mut f, 8 + SIGCONTEXT + FPSTATE, (oldmask >> 32) as u32);
            // popl %eax; movl $119, %eax; int $0x80
            f[SIGFRAME - 8..SIGFRAME].copy_from_slice(&[0x58, 0xb8, 119, 0, 0, 0, 0xcd, 0x80]);
        }
        self.uwrite(fp_addr, &fp)?;
        self.uwrite(frame, &f)?;
        let c = self.guest.cpu_mut();
        c.regs[ESP] = frame;
        c.eip = h;
        c.regs[EAX] = sig;
        if rt {
            c.regs[EDX] = frame + 16;
            c.regs[ECX] = frame + 144;
        }
        // The handler starts with the direction flag clear and no trap flag.
        c.eflags &= !(0x400 | 0x100);
        Ok(())
    }

    /// Restore what a frame saved: registers from its sigcontext at `sc`,
    /// the FPU state it points to, and `mask`. Returns the restored eax.
    fn restore(&mut self, sc: u32, mask: u64) -> SysResult {
        let mut b = [0u8; SIGCONTEXT];
        self.uread(sc, &mut b)?;
        let g = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
        let fpstate = g(76);
        if fpstate != 0 {
            let mut fx = [0u8; 512];
            self.uread(fpstate + 112, &mut fx)?;
            let c = self.guest.cpu_mut();
            c.fx.0 = fx;
            c.x87_live = 1;
        }
        for (o, seg) in [(0, 5), (4, 4), (8, 0), (12, 3)] {
            let sel = g(o) & 0xffff;
            if sel != self.guest.cpu().seg_sel[seg] && !self.guest.load_segment(seg, sel) {
                return Err(Errno::EFAULT);
            }
        }
        let c = self.guest.cpu_mut();
        for (o, r) in [(16, EDI), (20, ESI), (24, EBP), (28, ESP), (32, EBX), (36, EDX), (40, ECX), (44, EAX)] {
            c.regs[r] = g(o);
        }
        c.eip = g(56);
        // Only the flags a program may change (as FIX_EFLAGS).
        const USER: u32 = 0x0001_0000 | 0x4000 | 0x0dd5 | 0x0004_0000 | 0x0020_0000;
        c.eflags = (c.eflags & !USER) | (g(64) & USER);
        self.sigmask = mask & !UNBLOCKABLE;
        Ok(self.guest.cpu().regs[EAX])
    }

    /// sigreturn: the legacy frame's sigcontext is 8 bytes below esp (the
    /// handler's return popped pretcode; the restorer popped sig).
    pub fn sigreturn(&mut self) -> SysResult {
        let frame = self.guest.cpu().regs[ESP].wrapping_sub(8);
        let lo = self.read_u32(frame + 8 + 80)? as u64;
        let hi = self.read_u32(frame + 8 + (SIGCONTEXT + FPSTATE) as u32)? as u64;
        self.restore(frame + 8, lo | hi << 32)
    }

    /// rt_sigreturn: the frame is 4 bytes below esp.
    pub fn rt_sigreturn(&mut self) -> SysResult {
        let frame = self.guest.cpu().regs[ESP].wrapping_sub(4);
        let uc = frame + 144;
        let lo = self.read_u32(uc + 20 + SIGCONTEXT as u32)? as u64;
        let hi = self.read_u32(uc + 24 + SIGCONTEXT as u32)? as u64;
        // The alternate stack may be changed through uc_stack.
        let mut st = [0u8; 12];
        self.uread(uc + 8, &mut st)?;
        let r = self.restore(uc + 20, lo | hi << 32)?;
        let g = |o: usize| u32::from_le_bytes(st[o..o + 4].try_into().unwrap());
        if !self.altstack.holds(self.guest.cpu().regs[ESP]) {
            let flags = g(4);
            self.altstack = if flags & SS_DISABLE != 0 {
                AltStack::disabled()
            } else {
                AltStack { sp: g(0), size: g(8), flags: 0 }
            };
        }
        Ok(r)
    }
}
