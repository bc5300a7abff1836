//! Stack symbolization on the host: addresses to `function+offset`.
//!
//! Probes record stacks as raw addresses (`ustack`, `kstack`: ids into the
//! object's stack-trace map, whose values are arrays of `u64` frames). The
//! kernel keeps no symbols, so the host names them from the ELF files it
//! booted: the workload's for user addresses, the kernel image's for
//! kernel addresses. The two never overlap (user programs live in the
//! lower half, the kernel in the upper), so one [`Symbolizer`] serves both
//! kinds of stack and picks the table by the address alone.
//!
//! Symbols come from the ELF symbol tables through the `object` crate;
//! the workloads and the kernel are built with symbols but without debug
//! info, so function+offset is what there is. Rust names are demangled
//! without their hash (`leaky::grow_heap`, as `nm -C` shows them).
//!
//! Frames after the first are return addresses, which point just past
//! their call instruction: when the call is a function's last instruction
//! (a call to a function that does not return), the address already
//! belongs to the next symbol. So every frame is looked up at `addr - 1`,
//! as debuggers do, while the printed offset stays `addr - start` (the
//! return address, as bpftrace and gdb print it). The first user frame is
//! the instruction after `syscall` (also a return address in effect), and
//! the first kernel frame is the hook site's return address.

use std::fmt;
use std::path::{Path, PathBuf};

use object::{Object, ObjectSection, ObjectSymbol, SectionKind, SymbolKind};

/// Where user addresses end and kernel addresses begin (x86-64 canonical
/// halves).
const KERNEL_HALF: u64 = 0xffff_8000_0000_0000;

/// Why an ELF file could not give its symbols.
#[derive(Debug)]
pub enum SymbolizeError {
    /// The file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The file is not an ELF file the `object` crate can read.
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        error: object::Error,
    },
}

impl fmt::Display for SymbolizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SymbolizeError::Io { path, error } => {
                write!(f, "cannot read {}: {error}", path.display())
            }
            SymbolizeError::Parse { path, error } => {
                write!(f, "{} is not a readable ELF file: {error}", path.display())
            }
        }
    }
}

impl std::error::Error for SymbolizeError {}

/// One function symbol: `[start, end)` and its demangled name.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Sym {
    start: u64,
    end: u64,
    name: String,
}

/// The function symbols of one ELF file, sorted by address.
#[derive(Clone, Debug, Default)]
pub struct Symbols {
    syms: Vec<Sym>,
}

impl Symbols {
    /// Read the symbols of the ELF file at `path`.
    pub fn from_file(path: &Path) -> Result<Symbols, SymbolizeError> {
        let bytes = std::fs::read(path).map_err(|error| SymbolizeError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        Symbols::from_bytes(&bytes).map_err(|error| SymbolizeError::Parse {
            path: path.to_path_buf(),
            error,
        })
    }

    /// The function symbols of an ELF image in memory.
    pub fn from_bytes(bytes: &[u8]) -> Result<Symbols, object::Error> {
        let file = object::File::parse(bytes)?;
        // Symbols of size 0 (assembly labels such as entry stubs) reach up
        // to the next symbol, but never past the end of their section.
        let section_end = |idx: Option<object::SectionIndex>| {
            idx.and_then(|i| file.section_by_index(i).ok())
                .map(|s| s.address().saturating_add(s.size()))
        };
        // Functions, and untyped labels in code sections: assembly entry
        // points such as a workload's `_start` or the kernel's trap stubs
        // are labels of size 0 (not "definitions" to `object`).
        let in_code = |s: &object::Symbol<'_, '_>| {
            s.section_index()
                .and_then(|i| file.section_by_index(i).ok())
                .is_some_and(|sec| sec.kind() == SectionKind::Text)
        };
        let mut raw: Vec<(u64, u64, Option<u64>, String)> = file
            .symbols()
            .filter(|s| match s.kind() {
                SymbolKind::Text => s.is_definition(),
                SymbolKind::Unknown | SymbolKind::Label => !s.is_undefined() && in_code(s),
                _ => false,
            })
            .filter_map(|s| {
                let name = s.name().ok()?;
                if name.is_empty() {
                    return None;
                }
                Some((
                    s.address(),
                    s.size(),
                    section_end(s.section_index()),
                    format!("{:#}", rustc_demangle::demangle(name)),
                ))
            })
            .collect();
        raw.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        // Aliases (several names at one address) keep the first, largest.
        raw.dedup_by_key(|s| s.0);
        let mut syms: Vec<Sym> = Vec::with_capacity(raw.len());
        for (i, (start, size, sec_end, name)) in raw.iter().enumerate() {
            // A label inside a function (a jump target with a name) must
            // not cut the function in two.
            if *size == 0 && syms.last().is_some_and(|p| *start < p.end) {
                continue;
            }
            let end = if *size > 0 {
                start.saturating_add(*size)
            } else {
                let next = raw.get(i + 1).map_or(u64::MAX, |n| n.0);
                next.min(sec_end.unwrap_or(u64::MAX))
            };
            if end > *start {
                syms.push(Sym {
                    start: *start,
                    end,
                    name: name.clone(),
                });
            }
        }
        Ok(Symbols { syms })
    }

    /// A table from `(start, size, name)` triples.
    #[cfg(test)]
    pub fn from_table(syms: &[(u64, u64, &str)]) -> Symbols {
        let mut syms: Vec<Sym> = syms
            .iter()
            .filter(|s| s.1 > 0)
            .map(|&(start, size, name)| Sym {
                start,
                end: start.saturating_add(size),
                name: name.to_string(),
            })
            .collect();
        syms.sort_by_key(|s| s.start);
        Symbols { syms }
    }

    /// The symbol containing `addr`: its name and `addr`'s offset in it.
    pub fn lookup(&self, addr: u64) -> Option<(&str, u64)> {
        let i = self
            .syms
            .partition_point(|s| s.start <= addr)
            .checked_sub(1)?;
        let s = &self.syms[i];
        (addr < s.end).then(|| (s.name.as_str(), addr - s.start))
    }

    /// True when the file has no function symbols (stripped).
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.syms.is_empty()
    }
}

/// One stack frame, symbolized where a symbol covers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The address the stack walk recorded.
    pub addr: u64,
    /// The function and the offset of `addr` in it.
    pub symbol: Option<(String, u64)>,
}

impl fmt::Display for Frame {
    /// `function+offset` as bpftrace prints frames (offset in decimal), or
    /// the address in hex when no symbol covers it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.symbol {
            Some((name, off)) => write!(f, "{name}+{off}"),
            None => write!(f, "{:#x}", self.addr),
        }
    }
}

/// Symbols for user and kernel addresses.
#[derive(Clone, Debug, Default)]
pub struct Symbolizer {
    user: Option<Symbols>,
    kernel: Option<Symbols>,
}

impl Symbolizer {
    /// A symbolizer that knows no symbols: every frame prints as hex.
    pub fn none() -> Symbolizer {
        Symbolizer::default()
    }

    /// Symbols for user addresses (the workload's ELF) and kernel
    /// addresses (the kernel image); either may be missing.
    #[cfg(test)]
    pub fn new(user: Option<Symbols>, kernel: Option<Symbols>) -> Symbolizer {
        Symbolizer { user, kernel }
    }

    /// Load the workload's and the kernel's ELF files. A file that cannot
    /// be read is reported in the error list and its frames print as hex:
    /// a run's results are worth printing without names.
    pub fn load(
        workload: Option<&Path>,
        kernel: Option<&Path>,
    ) -> (Symbolizer, Vec<SymbolizeError>) {
        let mut errors = Vec::new();
        let mut read = |p: Option<&Path>| match p.map(Symbols::from_file) {
            Some(Ok(s)) => Some(s),
            Some(Err(e)) => {
                errors.push(e);
                None
            }
            None => None,
        };
        let user = read(workload);
        let kernel = read(kernel);
        (Symbolizer { user, kernel }, errors)
    }

    /// One frame: looked up at `addr - 1` (a return address belongs to
    /// its call), printed with `addr`'s offset.
    pub fn frame(&self, addr: u64) -> Frame {
        let table = if addr >= KERNEL_HALF {
            self.kernel.as_ref()
        } else {
            self.user.as_ref()
        };
        let symbol = table
            .and_then(|t| t.lookup(addr.saturating_sub(1)))
            .map(|(name, off)| (name.to_string(), off + 1));
        Frame { addr, symbol }
    }

    /// The frames of a stack, innermost first; zero entries (the unused
    /// tail of a stack-map value) end it.
    pub fn stack(&self, addrs: impl IntoIterator<Item = u64>) -> Vec<Frame> {
        addrs
            .into_iter()
            .take_while(|&a| a != 0)
            .map(|a| self.frame(a))
            .collect()
    }
}

/// Where the build puts a workload's ELF file (`kernel/build.rs` builds
/// them into `kernel/target/user`, and the kernel embeds the same files).
pub fn workload_elf(workload: &str) -> PathBuf {
    capscope_kernel_runner::repo_root()
        .join("kernel/target/user/x86_64-unknown-linux-gnu/release")
        .join(workload)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real `leaky` workload, as the kernel build leaves it. The QEMU
    /// tests build it; so does any `capscope boot` or `run`.
    fn leaky() -> Symbols {
        let path = workload_elf("leaky");
        if !path.exists() {
            capscope_kernel_runner::build_kernel(capscope_kernel_runner::Flavor::Hooks)
                .expect("the kernel (and its workloads) build");
        }
        Symbols::from_file(&path).expect("leaky's symbols")
    }

    fn nm_address(path: &Path, name: &str) -> u64 {
        let out = std::process::Command::new("nm")
            .arg("-C")
            .arg(path)
            .output()
            .expect("nm");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| {
                let mut it = l.split_whitespace();
                let addr = it.next()?;
                let _kind = it.next()?;
                (it.collect::<Vec<_>>().join(" ") == name)
                    .then(|| u64::from_str_radix(addr, 16).ok())?
            })
            .unwrap_or_else(|| panic!("nm has no {name}"))
    }

    #[test]
    fn workload_functions_resolve_demangled() {
        let syms = leaky();
        assert!(!syms.is_empty());
        let path = workload_elf("leaky");
        for name in ["leaky::grow_heap", "leaky::main", "leaky::shrink_heap"] {
            let addr = nm_address(&path, name);
            assert_eq!(syms.lookup(addr), Some((name, 0)));
            assert_eq!(syms.lookup(addr + 5), Some((name, 5)));
        }
    }

    #[test]
    fn assembly_labels_of_size_zero_resolve_up_to_the_next_symbol() {
        // `_start` is a label of the runtime's assembly, with no type and
        // no size; the outermost frame of every user stack is in it.
        let syms = leaky();
        let path = workload_elf("leaky");
        let start = nm_address(&path, "_start");
        assert_eq!(syms.lookup(start + 11), Some(("_start", 11)));
    }

    #[test]
    fn return_addresses_name_their_call_site() {
        let syms = leaky();
        let grow = nm_address(&workload_elf("leaky"), "leaky::grow_heap");
        let s = Symbolizer::new(Some(syms), None);
        // A return address 10 bytes into grow_heap.
        let f = s.frame(grow + 10);
        assert_eq!(f.symbol, Some(("leaky::grow_heap".to_string(), 10)));
        assert_eq!(f.to_string(), "leaky::grow_heap+10");
    }

    #[test]
    fn unknown_addresses_print_as_hex() {
        let s = Symbolizer::new(Some(leaky()), None);
        // Below the image, and kernel addresses without a kernel table.
        assert_eq!(s.frame(0x1000).to_string(), "0x1000");
        assert_eq!(
            s.frame(0xffff_ffff_8010_0000).to_string(),
            "0xffffffff80100000"
        );
        assert_eq!(Symbolizer::none().frame(0x400000).symbol, None);
        // Zero ends a stack-map value.
        let frames = s.stack([0x1000, 0x2000, 0, 0x3000]);
        assert_eq!(frames.len(), 2);
    }

    #[test]
    fn lookups_respect_symbol_bounds() {
        let s = Symbols {
            syms: vec![
                Sym {
                    start: 0x100,
                    end: 0x180,
                    name: "a".into(),
                },
                Sym {
                    start: 0x200,
                    end: 0x210,
                    name: "b".into(),
                },
            ],
        };
        assert_eq!(s.lookup(0x17f), Some(("a", 0x7f)));
        assert_eq!(s.lookup(0x180), None, "a gap between symbols");
        assert_eq!(s.lookup(0xff), None);
        assert_eq!(s.lookup(0x20f), Some(("b", 0xf)));
        assert_eq!(s.lookup(0x210), None);
    }

    #[test]
    fn kernel_functions_resolve_from_the_kernel_image() {
        let path = capscope_kernel_runner::repo_root()
            .join("kernel/target/x86_64-unknown-linux-gnu/release/capscope-kernel");
        let path = if path.exists() {
            path
        } else {
            capscope_kernel_runner::build_kernel(capscope_kernel_runner::Flavor::Hooks)
                .expect("the kernel builds")
        };
        let addr = nm_address(&path, "syscall_from_user");
        assert!(addr >= KERNEL_HALF);
        let s = Symbolizer::new(None, Some(Symbols::from_file(&path).unwrap()));
        assert_eq!(s.frame(addr + 3).to_string(), "syscall_from_user+3");
        // User addresses do not go to the kernel's table.
        assert_eq!(s.frame(0x400100).symbol, None);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(Symbols::from_bytes(b"not an elf file").is_err());
        assert!(Symbols::from_bytes(&[]).is_err());
        let (s, errors) = Symbolizer::load(Some(Path::new("/nonexistent/elf")), None);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].to_string().contains("/nonexistent/elf"));
        assert_eq!(s.frame(0x400000).symbol, None);
    }
}
