//! Host code emission for the glue around rewritten guest instructions:
//! exits, chainable jumps, the inline indirect-branch lookup and the
//! preemption poll. Hand-encoded because these few sequences must keep the
//! guest's EFLAGS (only mov, lea, movzx, xchg, jrcxz and jmp) and have a
//! known layout for patching; rewritten guest instructions go through
//! iced-x86's encoder instead (see `translate.rs`).

use crate::state::*;
use iced_x86::{Encoder, Instruction};

/// Scratch host registers by encoding number.
pub const R11: u8 = 11;
pub const R13: u8 = 13;
pub const R14: u8 = 14;

/// A chainable exit: a jump whose rel32 first points at a stub that asks
/// the dispatcher to translate `target` and patch the jump.
#[derive(Clone, Copy)]
pub struct ExitSite {
    /// Offset of the rel32 field of the jump in the block.
    pub site: u32,
    /// Offset of the stub the jump points at until chained.
    pub stub: u32,
    pub target: u32,
}

/// Host code under construction for one block.
pub struct Emitter {
    pub code: Vec<u8>,
    pub exits: Vec<ExitSite>,
    /// rel32 fields of calls to an indirect-lookup thunk after the body.
    thunks: Vec<u32>,
    /// rel32 fields of jumps from return points to the block's lookup
    /// for returns that did not match.
    ret_misses: Vec<u32>,
    /// Made on first use: a block that encodes nothing (a fetch fault)
    /// then never makes the encoder build its tables.
    enc: Option<Encoder>,
}

impl Emitter {
    pub fn new() -> Emitter {
        Emitter {
            code: Vec::with_capacity(1024),
            exits: Vec::new(),
            thunks: Vec::new(),
            ret_misses: Vec::new(),
            enc: None,
        }
    }

    pub fn off(&self) -> u32 {
        self.code.len() as u32
    }

    pub fn bytes(&mut self, b: &[u8]) {
        self.code.extend_from_slice(b);
    }

    fn u32(&mut self, v: u32) {
        self.code.extend_from_slice(&v.to_le_bytes());
    }

    /// Encode one iced instruction (not RIP-relative).
    pub fn ins(&mut self, ins: &Instruction) -> Result<(), String> {
        let enc = self.enc.get_or_insert_with(|| Encoder::new(64));
        enc.encode(ins, 0).map_err(|e| format!("{e}: {ins:?}"))?;
        // The encoder's buffer goes back to it, emptied: no allocation
        // per instruction.
        let mut b = enc.take_buffer();
        self.code.extend_from_slice(&b);
        b.clear();
        enc.set_buffer(b);
        Ok(())
    }

    /// `mov r14d, [r15 - 4096]`: faults when the poll page is armed. A
    /// full 32-bit load, so it does not merge into (and wait for) r14.
    pub fn poll(&mut self) {
        self.bytes(&[0x45, 0x8b, 0xb7]);
        self.u32((-4096i32) as u32);
    }

    /// `mov dword [r15 + off], imm32`.
    pub fn store_state_imm(&mut self, off: usize, imm: u32) {
        self.bytes(&[0x41, 0xc7, 0x87]);
        self.u32(off as u32);
        self.u32(imm);
    }

    /// `mov r32, [r15 + off]` for a host register number.
    pub fn load_state32(&mut self, reg: u8, off: usize) {
        self.bytes(&[0x41 | ((reg >> 3) << 2), 0x8b, 0x87 | ((reg & 7) << 3)]);
        self.u32(off as u32);
    }

    /// `mov r64, [r15 + off]` for a host register number.
    pub fn load_state64(&mut self, reg: u8, off: usize) {
        self.bytes(&[0x49 | ((reg >> 3) << 2), 0x8b, 0x87 | ((reg & 7) << 3)]);
        self.u32(off as u32);
    }

    /// `jmp qword [r15 + off]`.
    pub fn jmp_state(&mut self, off: usize) {
        self.bytes(&[0x41, 0xff, 0xa7]);
        self.u32(off as u32);
    }

    /// Leave translated code with `reason`, recording the instruction's
    /// `eip`, the `next` eip and an argument.
    pub fn exit(&mut self, reason: u32, eip: u32, next: u32, arg: u32) {
        self.store_state_imm(OFF_EIP, eip);
        self.store_state_imm(OFF_NEXT_EIP, next);
        self.store_state_imm(OFF_EXIT_ARG, arg);
        self.store_state_imm(OFF_REASON, reason);
        self.jmp_state(OFF_EXIT_PTR);
    }

    fn align_for(&mut self, opcode_len: usize) {
        // Blocks start 64-byte aligned; keep each rel32 field inside one
        // cache line so patching it is a single atomic store.
        while (self.code.len() + opcode_len) % 64 > 60 {
            self.code.push(0x90);
        }
    }

    /// Pad with long NOPs up to a multiple of `n` bytes (blocks start
    /// 64-byte aligned).
    pub fn align(&mut self, n: usize) {
        const NOPS: [&[u8]; 9] = [
            &[],
            &[0x90],
            &[0x66, 0x90],
            &[0x0f, 0x1f, 0x00],
            &[0x0f, 0x1f, 0x40, 0x00],
            &[0x0f, 0x1f, 0x44, 0x00, 0x00],
            &[0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00],
            &[0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00],
            &[0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
        ];
        let mut pad = (n - self.code.len() % n) % n;
        while pad > 0 {
            let k = pad.min(8);
            self.code.extend_from_slice(NOPS[k]);
            pad -= k;
        }
    }

    /// A jump to host offset `to` inside this block.
    pub fn jmp_local(&mut self, to: u32) {
        self.code.push(0xe9);
        let rel = to.wrapping_sub(self.off() + 4);
        self.u32(rel);
    }

    /// A conditional jump to host offset `to` inside this block.
    pub fn jcc_local(&mut self, cc: u8, to: u32) {
        self.bytes(&[0x0f, 0x80 | cc]);
        let rel = to.wrapping_sub(self.off() + 4);
        self.u32(rel);
    }

    /// A chainable `jmp` to guest `target`.
    pub fn jmp_guest(&mut self, target: u32) {
        self.align_for(1);
        self.code.push(0xe9);
        let site = self.off();
        self.u32(0);
        self.exits.push(ExitSite { site, stub: 0, target });
    }

    /// A chainable `jcc` (condition code `cc`) to guest `target`.
    pub fn jcc_guest(&mut self, cc: u8, target: u32) {
        self.align_for(2);
        self.bytes(&[0x0f, 0x80 | cc]);
        let site = self.off();
        self.u32(0);
        self.exits.push(ExitSite { site, stub: 0, target });
    }

    /// Jump to the guest address in r13d through the indirect-branch table
    /// (r9, see `state::IND_ENTRIES`): the code at the offset its entry
    /// holds from the cache's start (r10). Flags and guest registers
    /// untouched. The index is r13d zero-extended anew, so whatever the
    /// upper half of r13 holds the load stays inside the table.
    pub fn lookup_r13(&mut self) {
        self.bytes(&[0x45, 0x89, 0xee]); // mov r14d, r13d
        self.bytes(&[0x47, 0x8b, 0x34, 0xb1]); // mov r14d, [r9+r14*4]
        self.bytes(&[0x4f, 0x8d, 0x34, 0x16]); // lea r14, [r14+r10]
        self.bytes(&[0x41, 0xff, 0xe6]); // jmp r14
    }

    /// Test r13d against `target` without flags (rcx waits in r11): a
    /// `jrcxz` to the hit path, whose rel8 field's offset this returns for
    /// `patch_rel8`. Both paths must start with `restore_rcx`.
    pub fn ic_test(&mut self, target: u32) -> usize {
        self.bytes(&[0x49, 0x89, 0xcb]); // mov r11, rcx
        self.bytes(&[0x41, 0x8d, 0x8d]); // lea ecx, [r13 - target]
        self.u32(target.wrapping_neg());
        self.bytes(&[0xe3, 0x00]); // jrcxz hit
        self.code.len() - 1
    }

    /// `mov rcx, r11`: undo the parking of `ic_test`.
    pub fn restore_rcx(&mut self) {
        self.bytes(&[0x4c, 0x89, 0xd9]);
    }

    /// A short jump over code yet to come: returns its rel8 field's offset.
    pub fn jmp_short(&mut self) -> usize {
        self.bytes(&[0xeb, 0x00]);
        self.code.len() - 1
    }

    /// Point the rel8 field at `at` to the current offset.
    pub fn patch_rel8(&mut self, at: usize) -> Result<(), String> {
        let rel = self.code.len() - at - 1;
        self.code[at] = u8::try_from(rel).ok().filter(|&r| r < 0x80).ok_or("short jump too far")?;
        Ok(())
    }

    /// A chainable host `call` to guest `target`, returning to guest
    /// `ret`: the host return address lands on the shadow stack, so the
    /// guest's `ret` is predicted.
    pub fn call_guest(&mut self, target: u32, ret: u32) {
        self.align_for(1);
        self.code.push(0xe8);
        let site = self.off();
        self.u32(0);
        self.exits.push(ExitSite { site, stub: 0, target });
        self.ret_site(ret);
    }

    /// A host `call` to an inline lookup of the guest address in r13d,
    /// returning to guest `ret`.
    pub fn call_lookup(&mut self, ret: u32) {
        self.code.push(0xe8);
        let site = self.off();
        self.u32(0);
        self.thunks.push(site);
        self.ret_site(ret);
    }

    /// The return point of a host call standing for a guest call that
    /// returns to `ret`: a guest `ret` arrives here by the host `ret`
    /// with the address it popped in r13d, and goes on only if that is
    /// `ret`; else (a return address changed, longjmp-like stack switches)
    /// through the lookup table.
    fn ret_site(&mut self, ret: u32) {
        let hit = self.ic_test(ret);
        self.restore_rcx();
        self.code.push(0xe9); // jmp to the block's return lookup
        let site = self.off();
        self.u32(0);
        self.ret_misses.push(site);
        self.code[hit] = (self.code.len() - hit - 1) as u8;
        self.restore_rcx();
    }

    /// Return to guest address r13d through the host `ret`: the return
    /// point checks that it is the one (`ret_site`). A shadow stack
    /// emptied by deep returns ends in the sentinel, which looks r13d up.
    pub fn ret_shadow(&mut self) {
        self.code.push(0xc3);
    }

    /// Drop the code from offset `code` on, with the exits from index
    /// `exits` on and the thunk calls and return jumps in that code.
    pub fn truncate(&mut self, code: usize, exits: usize) {
        self.code.truncate(code);
        self.exits.truncate(exits);
        self.thunks.retain(|&s| (s as usize) < code);
        self.ret_misses.retain(|&s| (s as usize) < code);
    }

    /// Emit the stubs of all chainable exits; call once after the body.
    pub fn finish_stubs(&mut self) {
        if !self.ret_misses.is_empty() {
            let to = self.off();
            for &site in &self.ret_misses {
                let rel = to.wrapping_sub(site + 4);
                self.code[site as usize..site as usize + 4].copy_from_slice(&rel.to_le_bytes());
            }
            self.lookup_r13();
        }
        for i in 0..self.thunks.len() {
            let site = self.thunks[i];
            let rel = self.off().wrapping_sub(site + 4);
            self.code[site as usize..site as usize + 4].copy_from_slice(&rel.to_le_bytes());
            self.lookup_r13();
        }
        for i in 0..self.exits.len() {
            let stub = self.off();
            let (site, target) = (self.exits[i].site, self.exits[i].target);
            self.exits[i].stub = stub;
            let rel = stub.wrapping_sub(site + 4);
            self.code[site as usize..site as usize + 4].copy_from_slice(&rel.to_le_bytes());
            self.store_state_imm(OFF_NEXT_EIP, target);
            // lea r14, [rip + rel] -> the rel32 field of the jump
            self.bytes(&[0x4c, 0x8d, 0x35]);
            let after = self.off() + 4;
            self.u32(site.wrapping_sub(after));
            self.jmp_state(OFF_CHAIN_PTR);
        }
    }
}
