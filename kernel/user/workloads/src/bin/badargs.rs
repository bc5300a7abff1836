//! `badargs`: calls every syscall with invalid slots, rights, kernel and
//! unmapped pointers and bad sizes, and checks that each returns the
//! documented error. The kernel must survive all of it.
#![no_std]
#![no_main]

use capscope_user_rt::consts::{kind, rights, sys as nr};
use capscope_user_rt::uabi::PRINT_MAX;
use capscope_user_rt::{Error, println, sys};
use capscope_workloads::{FACTORY, SELF_TASK, check};

const KERNEL_PTR: u64 = 0xffff_ffff_8010_0000;
const DIRECT_MAP_PTR: u64 = 0xffff_8000_0010_0000;
const UNMAPPED: u64 = 0x7000_0000_0000;
const GATE: u64 = 10;
const WEAK: u64 = 11;
const MEM: u64 = 12;
const THREAD: u64 = 13;
const EMPTY: u64 = 300;

struct Checks {
    run: u32,
    failed: u32,
}

impl Checks {
    fn expect(&mut self, what: &str, got: Result<u64, Error>, want: Error) {
        self.run += 1;
        if got != Err(want) {
            self.failed += 1;
            println!("badargs: {what}: expected {want:?}, got {got:?}");
        }
    }
    fn raw(&mut self, what: &str, n: u64, a: [u64; 6], want: Error) {
        self.expect(what, sys::result(sys::raw(n, a)), want);
    }
}

/// Create into slots `first..` until `make` fails; delete what was made
/// and return the failure.
fn fill(first: u64, make: impl Fn(u64) -> Result<u64, Error>) -> Result<u64, Error> {
    let mut slot = first;
    let err = loop {
        match make(slot) {
            Ok(_) if slot < first + 200 => slot += 1,
            other => break other,
        }
    };
    for s in first..slot {
        check("delete", sys::delete(s));
    }
    err
}

extern "C" fn never(_: u64) -> ! {
    sys::exit(9)
}

fn main() -> u64 {
    let mut c = Checks { run: 0, failed: 0 };
    let buf = [0u8; 64];
    let p = buf.as_ptr() as u64;
    check("gate", sys::create(FACTORY, kind::GATE, GATE, 7));
    check(
        "weak copy",
        sys::map(GATE, SELF_TASK, WEAK, rights::READ, 0),
    );
    check("memory", sys::create(FACTORY, kind::MEMORY, MEM, 8192));
    check(
        "thread",
        sys::create(FACTORY, kind::THREAD, THREAD, SELF_TASK),
    );

    // No such syscall.
    c.raw("nr 999", 999, [0; 6], Error::NoSys);
    c.raw("nr MAX", u64::MAX, [0; 6], Error::NoSys);
    // print: pointers and sizes.
    c.raw(
        "print kernel ptr",
        nr::PRINT,
        [KERNEL_PTR, 16, 0, 0, 0, 0],
        Error::Fault,
    );
    c.raw(
        "print direct map",
        nr::PRINT,
        [DIRECT_MAP_PTR, 16, 0, 0, 0, 0],
        Error::Fault,
    );
    c.raw("print null", nr::PRINT, [0, 8, 0, 0, 0, 0], Error::Fault);
    c.raw(
        "print unmapped",
        nr::PRINT,
        [UNMAPPED, 8, 0, 0, 0, 0],
        Error::Fault,
    );
    c.raw(
        "print wraps",
        nr::PRINT,
        [u64::MAX - 4, 16, 0, 0, 0, 0],
        Error::Fault,
    );
    c.raw(
        "print past user top",
        nr::PRINT,
        [0x7fff_ffff_fff0, 64, 0, 0, 0, 0],
        Error::Fault,
    );
    c.raw(
        "print too long",
        nr::PRINT,
        [p, PRINT_MAX as u64 + 1, 0, 0, 0, 0],
        Error::TooBig,
    );
    c.raw(
        "print huge len",
        nr::PRINT,
        [p, u64::MAX, 0, 0, 0, 0],
        Error::TooBig,
    );
    // create.
    c.expect(
        "create factory out of range",
        sys::create(1 << 40, kind::GATE, 40, 0),
        Error::Range,
    );
    c.expect(
        "create empty factory",
        sys::create(EMPTY, kind::GATE, 40, 0),
        Error::NoEnt,
    );
    c.expect(
        "create from a task cap",
        sys::create(SELF_TASK, kind::GATE, 40, 0),
        Error::BadKind,
    );
    c.expect(
        "create kind 0",
        sys::create(FACTORY, 0, 40, 0),
        Error::Inval,
    );
    c.expect(
        "create kind 7",
        sys::create(FACTORY, 7, 40, 0),
        Error::Inval,
    );
    c.expect(
        "create into occupied",
        sys::create(FACTORY, kind::GATE, GATE, 0),
        Error::Busy,
    );
    c.expect(
        "create dst out of range",
        sys::create(FACTORY, kind::GATE, 512, 0),
        Error::Range,
    );
    c.expect(
        "create memory 0",
        sys::create(FACTORY, kind::MEMORY, 40, 0),
        Error::Inval,
    );
    c.expect(
        "create memory huge",
        sys::create(FACTORY, kind::MEMORY, 40, u64::MAX),
        Error::Inval,
    );
    c.expect(
        "create thread in empty",
        sys::create(FACTORY, kind::THREAD, 40, EMPTY),
        Error::NoEnt,
    );
    c.expect(
        "create thread in gate",
        sys::create(FACTORY, kind::THREAD, 40, GATE),
        Error::BadKind,
    );
    c.expect(
        "create irq line 99",
        sys::create(FACTORY, kind::IRQ, 40, 99),
        Error::Inval,
    );
    c.expect(
        "create irq serial",
        sys::create(FACTORY, kind::IRQ, 40, 4),
        Error::Inval,
    );
    c.expect(
        "create task arg",
        sys::create(FACTORY, kind::TASK, 40, 5),
        Error::Inval,
    );
    c.expect(
        "create factory over quota",
        sys::create(FACTORY, kind::FACTORY, 40, u64::MAX),
        Error::NoSpc,
    );
    // delete.
    c.expect("delete out of range", sys::delete(1 << 40), Error::Range);
    c.expect("delete empty", sys::delete(EMPTY), Error::NoEnt);
    // map.
    c.expect(
        "map empty",
        sys::map(EMPTY, SELF_TASK, 40, rights::READ, 0),
        Error::NoEnt,
    );
    c.expect(
        "map into non-task",
        sys::map(GATE, FACTORY, 40, rights::READ, 0),
        Error::BadKind,
    );
    c.expect(
        "map bad rights",
        sys::map(GATE, SELF_TASK, 40, 64, 0),
        Error::Inval,
    );
    c.expect(
        "map bad flags",
        sys::map(GATE, SELF_TASK, 40, rights::READ, 8),
        Error::Inval,
    );
    c.expect(
        "map onto itself",
        sys::map(GATE, SELF_TASK, GATE, rights::READ, 0),
        Error::Inval,
    );
    c.expect(
        "map dst out of range",
        sys::map(GATE, SELF_TASK, 9999, rights::READ, 0),
        Error::Range,
    );
    c.expect(
        "map without RIGHT_MAP",
        sys::map(WEAK, SELF_TASK, 40, rights::READ, 0),
        Error::Perm,
    );
    c.expect(
        "map no-overmap onto occupied",
        sys::map(GATE, SELF_TASK, WEAK, rights::ALL, 2),
        Error::Busy,
    );
    // unmap.
    c.expect("unmap bad flags", sys::unmap(GATE, 2), Error::Inval);
    c.expect("unmap empty", sys::unmap(EMPTY, 0), Error::NoEnt);
    // IPC.
    let mut m = [0u8; 8];
    c.expect(
        "call a factory",
        sys::call_gate(FACTORY, 7, &mut m, 8),
        Error::BadKind,
    );
    c.raw(
        "call too long",
        nr::CALL,
        [GATE, 7, p, 4096, 0, 0],
        Error::TooBig,
    );
    c.raw(
        "call kernel msg",
        nr::CALL,
        [GATE, 7, KERNEL_PTR, 8, 0, 0],
        Error::Fault,
    );
    c.expect(
        "call wrong label",
        sys::call_gate(GATE, 8, &mut m, 8),
        Error::Proto,
    );
    c.expect(
        "call unserved gate",
        sys::call_gate(GATE, 7, &mut m, 8),
        Error::NotConn,
    );
    c.expect(
        "call without INVOKE",
        sys::call_gate(WEAK, 7, &mut m, 8),
        Error::Perm,
    );
    c.expect(
        "recv on a factory",
        sys::recv(FACTORY, &mut m),
        Error::BadKind,
    );
    c.expect("recv on memory", sys::recv(MEM, &mut m), Error::BadKind);
    c.expect("reply with nobody", sys::reply(&m), Error::NoEnt);
    // memory.
    c.expect(
        "attach a gate",
        sys::attach(GATE, 0x1000_0000, rights::READ),
        Error::BadKind,
    );
    c.expect(
        "attach unaligned",
        sys::attach(MEM, 0x1000_0010, rights::READ),
        Error::Inval,
    );
    c.expect(
        "attach kernel",
        sys::attach(MEM, KERNEL_PTR, rights::READ),
        Error::Inval,
    );
    c.expect(
        "attach page 0",
        sys::attach(MEM, 0, rights::READ),
        Error::Inval,
    );
    c.expect(
        "attach no rights",
        sys::attach(MEM, 0x1000_0000, 0),
        Error::Inval,
    );
    c.expect(
        "attach MAP right",
        sys::attach(MEM, 0x1000_0000, rights::MAP),
        Error::Inval,
    );
    c.expect(
        "attach over image",
        sys::attach(MEM, 0x40_0000, rights::READ),
        Error::Busy,
    );
    c.expect("detach nothing", sys::detach(0x1000_0000), Error::NoEnt);
    // threads, tasks, faults.
    c.raw(
        "thread_start kernel entry",
        nr::THREAD_START,
        [THREAD, KERNEL_PTR, 0x2000_0000, 0, 0, 0],
        Error::Inval,
    );
    c.expect(
        "thread_start empty",
        sys::thread_start(EMPTY, never, 0x2000_0000, 0),
        Error::NoEnt,
    );
    c.expect(
        "task_start a factory",
        sys::task_start(FACTORY, never, 0, 0),
        Error::BadKind,
    );
    c.expect(
        "task_start running task",
        sys::task_start(SELF_TASK, never, 0, 0),
        Error::Busy,
    );
    c.expect("wait for self", sys::wait_task(SELF_TASK), Error::Inval);
    c.expect("wait on a gate", sys::wait_task(GATE), Error::BadKind);
    c.raw(
        "fault_handler kernel",
        nr::FAULT_HANDLER,
        [KERNEL_PTR, 0x2000_0000, 0, 0, 0, 0],
        Error::Inval,
    );
    c.expect("fault_return outside", sys::fault_return(0), Error::Inval);
    c.raw(
        "cap_info kernel buf",
        nr::CAP_INFO,
        [GATE, KERNEL_PTR, 0, 0, 0, 0],
        Error::Fault,
    );
    c.raw(
        "cap_info unmapped buf",
        nr::CAP_INFO,
        [GATE, UNMAPPED, 0, 0, 0, 0],
        Error::Fault,
    );
    c.raw(
        "cap_info into code",
        nr::CAP_INFO,
        [GATE, main as fn() -> u64 as usize as u64, 0, 0, 0, 0],
        Error::Fault,
    );
    c.expect(
        "cap_info empty",
        sys::cap_info(EMPTY).map(|i| i.kind),
        Error::NoEnt,
    );
    c.expect("irq_wait on a gate", sys::irq_wait(GATE), Error::BadKind);

    // Resource limits end in clean errors, never in a kernel out of heap.
    c.expect(
        "too many tasks",
        fill(100, |s| sys::create(FACTORY, kind::TASK, s, 0)),
        Error::NoSpc,
    );
    c.expect(
        "memory budget",
        fill(200, |s| sys::create(FACTORY, kind::MEMORY, s, 64 << 20)),
        Error::NoMem,
    );
    check("one page", sys::create(FACTORY, kind::MEMORY, 40, 4096));
    let mut attach_err = Ok(0);
    for i in 0..100u64 {
        attach_err = sys::attach(40, 0x5000_0000_0000 + i * 0x2000, rights::READ);
        if attach_err.is_err() {
            break;
        }
    }
    c.expect("too many attachments", attach_err, Error::NoSpc);
    for i in 0..100u64 {
        let _ = sys::detach(0x5000_0000_0000 + i * 0x2000);
    }
    check("delete page", sys::delete(40));

    // Still alive and correct afterwards.
    let alive = sys::cap_info(GATE).is_ok_and(|i| i.kind == kind::GATE && i.detail == 7);
    for s in [GATE, WEAK, MEM, THREAD] {
        check("delete", sys::delete(s));
    }
    if !alive {
        c.failed += 1;
        println!("badargs: the gate changed under the bad calls");
    }
    println!("badargs: {} checks, {} failures", c.run, c.failed);
    c.failed as u64
}

capscope_user_rt::entry!(main);
