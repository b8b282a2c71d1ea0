//! The CPU the guest sees: host cpuid leaves with every feature vx-core
//! does not run hidden (AVX and everything VEX/EVEX, XSAVE, sysenter,
//! long mode), so guest libraries pick code paths we translate.

/// Run the host's cpuid.
pub fn host_cpuid(leaf: u32, sub: u32) -> [u32; 4] {
    let r = core::arch::x86_64::__cpuid_count(leaf, sub);
    [r.eax, r.ebx, r.ecx, r.edx]
}

/// Whether the host CPU is AMD's (or Hygon's, its licensee): the two
/// makers leave different values in flags the manuals call undefined, and
/// the instructions vx-core emulates (AAA, DAS, ...) leave the host's.
pub fn host_is_amd() -> bool {
    static AMD: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AMD.get_or_init(|| {
        let r = host_cpuid(0, 0);
        // The vendor string is in ebx, edx, ecx: "Auth" "enti" "cAMD".
        matches!((r[1], r[3], r[2]), (0x6874_7541, 0x6974_6e65, 0x444d_4163) | (0x6f67_7948, 0x6e65_476e, 0x656e_6975))
    })
}

const L1_ECX: u32 = 1 << 0 | 1 << 1 | 1 << 3 | 1 << 9 | 1 << 19 | 1 << 20 | 1 << 22 | 1 << 23 | 1 << 25 | 1 << 30;
const L1_EDX_DROP: u32 = 1 << 11; // SEP: no sysenter
const L7_EBX: u32 = 1 << 9 | 1 << 18 | 1 << 29; // ERMS, RDSEED, SHA
const L7_EDX: u32 = 1 << 4; // FSRM
const E1_ECX: u32 = 1 << 0 | 1 << 8; // LAHF/SAHF, PREFETCHW
const E1_EDX: u32 = 1 << 27; // RDTSCP

/// Return the guest's view of cpuid `leaf`, subleaf `sub` (eax, ebx, ecx, edx).
/// Answers are kept: a host cpuid is slow in a virtual machine (it exits
/// to the hypervisor), and every program's start-up asks dozens of them.
pub fn guest_cpuid(leaf: u32, sub: u32) -> [u32; 4] {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    type Answers = HashMap<(u32, u32), [u32; 4]>;
    static SEEN: OnceLock<Mutex<Answers>> = OnceLock::new();
    let seen = SEEN.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(r) = seen.lock().unwrap_or_else(|e| e.into_inner()).get(&(leaf, sub)) {
        return *r;
    }
    let r = compute(leaf, sub);
    seen.lock().unwrap_or_else(|e| e.into_inner()).insert((leaf, sub), r);
    r
}

fn compute(leaf: u32, sub: u32) -> [u32; 4] {
    // The highest leaves, asked once (each host cpuid is a hypervisor exit).
    static MAX: std::sync::OnceLock<(u32, u32)> = std::sync::OnceLock::new();
    let &(max, emax) = MAX.get_or_init(|| (host_cpuid(0, 0)[0], host_cpuid(0x8000_0000, 0)[0]));
    match leaf {
        0 => {
            let mut r = host_cpuid(0, 0);
            r[0] = max.min(7);
            r
        }
        1 => {
            let mut r = host_cpuid(1, 0);
            r[2] &= L1_ECX;
            r[3] &= !L1_EDX_DROP;
            r
        }
        2..=6 if leaf <= max => host_cpuid(leaf, sub),
        7 if sub == 0 && max >= 7 => {
            let r = host_cpuid(7, 0);
            [0, r[1] & L7_EBX, 0, r[3] & L7_EDX]
        }
        0x8000_0000 => {
            let mut r = host_cpuid(0x8000_0000, 0);
            r[0] = emax.min(0x8000_0008);
            r
        }
        0x8000_0001 if emax >= 0x8000_0001 => {
            let r = host_cpuid(0x8000_0001, 0);
            [r[0], r[1], r[2] & E1_ECX, r[3] & E1_EDX]
        }
        0x8000_0002..=0x8000_0008 if leaf <= emax => host_cpuid(leaf, sub),
        _ => [0; 4],
    }
}

/// Return AT_HWCAP for the guest: the edx of its cpuid leaf 1, as i386 Linux gives.
pub fn guest_hwcap() -> u32 {
    guest_cpuid(1, 0)[3]
}
