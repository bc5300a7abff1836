//! Run the fuzz check over files or directories of inputs (a corpus, or
//! crash files libFuzzer wrote), on stable Rust without cargo-fuzz. With no
//! arguments, runs a built-in pseudo-random sweep.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut n = 0u64;
    if args.is_empty() {
        // xorshift sweep: deterministic, so a failure reproduces
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..200_000 {
            let len = (x % 400) as usize;
            let mut data = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                data.push(x as u8);
            }
            capscope_verifier_fuzz::check(&data);
            n += 1;
        }
    }
    for a in &args {
        let p = std::path::Path::new(a);
        let files: Vec<_> = if p.is_dir() {
            std::fs::read_dir(p)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect()
        } else {
            vec![p.to_path_buf()]
        };
        for f in files {
            capscope_verifier_fuzz::check(&std::fs::read(&f).unwrap());
            n += 1;
        }
    }
    println!("{n} inputs checked, no panic");
}
