//! A cheap look at a library file before `dlopen`: the dynamic loader maps segments without
//! checking that the file really holds them, so a truncated library would crash the process
//! with SIGBUS instead of failing to load. This reads the ELF headers and refuses files whose
//! segments or section table reach past their end.

use std::io::Read;
use std::path::Path;

/// `Err(reason)` when the file is certainly not loadable.
pub fn check_library_file(path: &Path) -> Result<(), String> {
    let len = std::fs::metadata(path)
        .map_err(|e| format!("cannot read the file: {e}"))?
        .len();
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(64 * 1024).read_to_end(&mut head))
        .map_err(|e| format!("cannot read the file: {e}"))?;
    if cfg!(target_os = "macos") {
        // Mach-O files are checked by dyld itself.
        return Ok(());
    }
    check_elf(&head, len)
}

struct Reader<'a> {
    bytes: &'a [u8],
    big_endian: bool,
}

impl Reader<'_> {
    fn uint(&self, at: u64, size: usize) -> Option<u64> {
        let at = usize::try_from(at).ok()?;
        let raw = self.bytes.get(at..at.checked_add(size)?)?;
        let mut value = 0u64;
        for i in 0..size {
            let byte = if self.big_endian {
                raw[i]
            } else {
                raw[size - 1 - i]
            };
            value = (value << 8) | u64::from(byte);
        }
        Some(value)
    }
}

fn check_elf(head: &[u8], len: u64) -> Result<(), String> {
    if !head.starts_with(b"\x7fELF") {
        return Err(
            "not a shared library (no ELF header); remove it from the plugin directory".to_string(),
        );
    }
    let truncated = || {
        "truncated or damaged file (its ELF headers describe data past its end); reinstall the plugin"
            .to_string()
    };
    if head.len() < 52 {
        return Err(truncated());
    }
    let wide = match head[4] {
        1 => false,
        2 => true,
        other => return Err(format!("not a shared library (unknown ELF class {other})")),
    };
    let r = Reader {
        bytes: head,
        big_endian: head[5] == 2,
    };
    let word = if wide { 8 } else { 4 };
    let field = |at: u64, size: usize| r.uint(at, size).ok_or_else(truncated);
    // ELF header fields after e_ident(16), e_type(2), e_machine(2), e_version(4), e_entry(word).
    let phoff = field(24 + word as u64, word)?;
    let shoff = field(24 + 2 * word as u64, word)?;
    let rest = 24 + 3 * word as u64 + 4 + 2; // skip e_flags and e_ehsize
    let phentsize = field(rest, 2)?;
    let phnum = field(rest + 2, 2)?;
    let shentsize = field(rest + 4, 2)?;
    let shnum = field(rest + 6, 2)?;
    let fits = |offset: u64, size: u64| offset.checked_add(size).is_some_and(|end| end <= len);
    if !fits(phoff, phentsize * phnum) || (shoff != 0 && !fits(shoff, shentsize * shnum)) {
        return Err(truncated());
    }
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        // p_offset and p_filesz sit at different places in 32- and 64-bit program headers.
        let (offset, filesz) = if wide {
            (r.uint(ph + 8, 8), r.uint(ph + 32, 8))
        } else {
            (r.uint(ph + 4, 4), r.uint(ph + 16, 4))
        };
        let (Some(offset), Some(filesz)) = (offset, filesz) else {
            // Program headers beyond the first 64 KiB are left to the loader.
            break;
        };
        if !fits(offset, filesz) {
            return Err(truncated());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_elf;

    #[test]
    fn non_elf_and_truncated_files_are_refused() {
        assert!(
            check_elf(
                b"hello world, this is not an ELF file at all, no no no.",
                60
            )
            .is_err()
        );
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let len = exe.len() as u64;
        let head = &exe[..exe.len().min(64 * 1024)];
        assert_eq!(check_elf(head, len), Ok(()));
        let err = check_elf(head, 5000).unwrap_err();
        assert!(err.contains("truncated"), "{err}");
    }
}
