//! Ring-buffer records of a compiled script: printf output and the map
//! actions (`print`, `clear`, `zero`, `exit`) the host carries out in
//! order (docs/language.md, "Output").

use capscope_bytecode::object::record::{self, RecordHeader};
use capscope_bytecode::object::{Conversion, FormatSpec, ProbeObject};

use super::value::{int, string, uint};

/// What a ring-buffer record from a compiled script asks of the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// printf output, formatted.
    Printf(String),
    /// `print(@map)`: print map `N` now.
    PrintMap(u32),
    /// `clear(@map)`: delete every entry of map `N`.
    ClearMap(u32),
    /// `zero(@map)`: zero every value of map `N`.
    ZeroMap(u32),
    /// `exit()`: end the session.
    Exit,
    /// A record this host does not understand (shown as hex).
    Unknown(Vec<u8>),
}

/// Decode a record of a compiled script (see `object::record`).
pub fn decode(obj: &ProbeObject, bytes: &[u8]) -> Record {
    let Some((hdr, payload)) = bytes.split_first_chunk::<8>() else {
        return Record::Unknown(bytes.to_vec());
    };
    let h = RecordHeader {
        kind: uint(hdr, 0, 4) as u32,
        id: uint(hdr, 4, 4) as u32,
    };
    match h.kind {
        record::KIND_PRINTF => match obj.formats.get(h.id as usize) {
            Some(f) => Record::Printf(printf(f, payload)),
            None => Record::Unknown(bytes.to_vec()),
        },
        record::KIND_PRINT_MAP => Record::PrintMap(h.id),
        record::KIND_CLEAR_MAP => Record::ClearMap(h.id),
        record::KIND_ZERO_MAP => Record::ZeroMap(h.id),
        record::KIND_EXIT => Record::Exit,
        _ => Record::Unknown(bytes.to_vec()),
    }
}

/// Render a printf record's payload with its format: `%d %u %x %s %p` with
/// flags `-0+ #`, a width and ignored length modifiers, as the language
/// accepts them; `%%` is `%`.
pub fn printf(f: &FormatSpec, payload: &[u8]) -> String {
    let mut out = String::new();
    let mut args = f.args.iter();
    let mut off = 0usize;
    let mut chars = f.template.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        let (mut left, mut zero, mut plus, mut alt) = (false, false, false, false);
        while let Some(&fl) = chars.peek() {
            match fl {
                '-' => left = true,
                '0' => zero = true,
                '+' => plus = true,
                '#' => alt = true,
                ' ' => {}
                _ => break,
            }
            chars.next();
        }
        let mut width = 0usize;
        while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
            width = width
                .saturating_mul(10)
                .saturating_add(d as usize)
                .min(4096);
            chars.next();
        }
        while matches!(chars.peek(), Some('l' | 'h' | 'z')) {
            chars.next();
        }
        let conv = chars.next();
        let Some(arg) = args.next() else {
            break;
        };
        let size = arg.size as usize;
        let body = match arg.conv {
            Conversion::Signed => {
                let v = int(payload, off, 8);
                if plus && v >= 0 {
                    format!("+{v}")
                } else {
                    v.to_string()
                }
            }
            Conversion::Unsigned => uint(payload, off, 8).to_string(),
            Conversion::Hex => {
                let v = uint(payload, off, 8);
                let s = if conv == Some('X') {
                    format!("{v:X}")
                } else {
                    format!("{v:x}")
                };
                if alt { format!("0x{s}") } else { s }
            }
            Conversion::Pointer => format!("{:#x}", uint(payload, off, 8)),
            Conversion::Str => string(payload, off, size.min(usize::from(u16::MAX))),
        };
        off = off.saturating_add(size);
        let pad = width.saturating_sub(body.chars().count());
        if left {
            out.push_str(&body);
            out.extend(std::iter::repeat_n(' ', pad));
        } else if zero && arg.conv != Conversion::Str {
            let (sign, digits) = body.split_at(usize::from(body.starts_with(['-', '+'])));
            out.push_str(sign);
            out.extend(std::iter::repeat_n('0', pad));
            out.push_str(digits);
        } else {
            out.extend(std::iter::repeat_n(' ', pad));
            out.push_str(&body);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use capscope_bytecode::object::FormatArg;

    #[test]
    fn printf_records() {
        let f = FormatSpec {
            template: "pid %d comm %-6s| %05u %#x %%\n".into(),
            args: vec![
                FormatArg {
                    conv: Conversion::Signed,
                    size: 8,
                },
                FormatArg {
                    conv: Conversion::Str,
                    size: 8,
                },
                FormatArg {
                    conv: Conversion::Unsigned,
                    size: 8,
                },
                FormatArg {
                    conv: Conversion::Hex,
                    size: 8,
                },
            ],
        };
        let mut rec = [record::KIND_PRINTF.to_le_bytes(), 0u32.to_le_bytes()].concat();
        rec.extend((-5i64).to_le_bytes());
        rec.extend(b"init\0\0\0\0");
        rec.extend(42u64.to_le_bytes());
        rec.extend(255u64.to_le_bytes());
        let obj = ProbeObject {
            formats: vec![f],
            ..Default::default()
        };
        assert_eq!(
            decode(&obj, &rec),
            Record::Printf("pid -5 comm init  | 00042 0xff %\n".into())
        );
        // A truncated payload prints zeros, never panics.
        assert_eq!(
            decode(&obj, &rec[..8]),
            Record::Printf("pid 0 comm       | 00000 0x0 %\n".into())
        );
        let clear = [record::KIND_CLEAR_MAP.to_le_bytes(), 3u32.to_le_bytes()].concat();
        assert_eq!(decode(&obj, &clear), Record::ClearMap(3));
        assert_eq!(decode(&obj, &[1, 2]), Record::Unknown(vec![1, 2]));
        let bad_format = [record::KIND_PRINTF.to_le_bytes(), 9u32.to_le_bytes()].concat();
        assert!(matches!(decode(&obj, &bad_format), Record::Unknown(_)));
    }
}
