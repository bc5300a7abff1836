//! `capscope list [-v] [PATTERN]`: the attach points and their fields.

use std::process::ExitCode;

use capscope_bytecode::abi::AttachPoint;

/// List the attach points (with -v, their context fields).
#[derive(clap::Args)]
pub struct Args {
    /// Show each point's context fields with offsets, types and meaning.
    #[arg(short, long)]
    verbose: bool,
    /// Only points matching this pattern (`*` matches any run of characters,
    /// as in `cap:*`).
    pattern: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let pattern = args.pattern.as_deref().unwrap_or("*");
    let points: Vec<_> = AttachPoint::ALL
        .into_iter()
        .filter(|p| glob_match(pattern, p.name()))
        .collect();
    if points.is_empty() {
        anyhow::bail!("no attach point matches `{pattern}`");
    }
    for p in points {
        let name = match p {
            AttachPoint::Interval => "interval:ms:N | interval:s:N".to_string(),
            _ => p.name().to_string(),
        };
        if !args.verbose {
            println!("{name}");
            continue;
        }
        println!("{name}  ({} bytes) -- {}", p.context_size(), p.doc());
        for f in p.fields() {
            let scope = if f.header { "" } else { "args." };
            let name = format!("{scope}{}", f.name);
            println!(
                "    {:>3}  {:<5} {name:<22} {}",
                f.offset,
                f.ty.name(),
                f.doc
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Shell-style matching with `*` only, which is all probe patterns need.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(tail) = text.strip_prefix(head) else {
                return false;
            };
            (0..=tail.len()).any(|i| tail.is_char_boundary(i) && glob_match(rest, &tail[i..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match("cap:*", "cap:alloc"));
        assert!(glob_match("*", "BEGIN"));
        assert!(glob_match("*:exit", "syscall:exit"));
        assert!(!glob_match("cap:*", "syscall:enter"));
        assert!(glob_match("c*p:a*c", "cap:alloc"));
        assert!(!glob_match("cap:alloc", "cap:allocx"));
    }
}
