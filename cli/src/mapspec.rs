//! `--map KIND:KEY_SIZE:VALUE_SIZE:MAX_ENTRIES`: map definitions for raw
//! programs, numbered from 0 in command-line order (`lddw rX, map[N]`).
//!
//! Shared by every subcommand that takes raw bytecode (`verify`, `exec`).

use anyhow::{Context, bail};
use capscope_bytecode::object::{MapDef, MapDisplay, MapKind, ProbeObject};

/// Parse one spec; the name is `map<N>` after [`number`].
pub fn parse(spec: &str) -> Result<MapDef, String> {
    let parts: Vec<&str> = spec.split(':').collect();
    let [kind, key, value, entries] = parts[..] else {
        return Err(format!(
            "`{spec}`: expected KIND:KEY_SIZE:VALUE_SIZE:MAX_ENTRIES, e.g. hash:8:8:1024"
        ));
    };
    let kind = MapKind::from_name(kind).ok_or_else(|| {
        let names: Vec<&str> = MapKind::ALL.iter().map(|k| k.name()).collect();
        format!("`{kind}` is not a map kind ({})", names.join(", "))
    })?;
    let num = |what: &str, s: &str| {
        s.parse::<u32>()
            .map_err(|_| format!("`{spec}`: {what} `{s}` is not a number"))
    };
    Ok(MapDef {
        name: String::new(),
        kind,
        key_size: num("key size", key)?,
        value_size: num("value size", value)?,
        max_entries: num("max entries", entries)?,
        display: MapDisplay::default(),
    })
}

/// Name the maps `map0`, `map1`, ... and check them as an object would be.
pub fn number(mut maps: Vec<MapDef>) -> anyhow::Result<Vec<MapDef>> {
    for (i, m) in maps.iter_mut().enumerate() {
        m.name = format!("map{i}");
    }
    let obj = ProbeObject {
        maps,
        ..ProbeObject::default()
    };
    if let Err(e) = obj.validate() {
        bail!("--map: {e}");
    }
    Ok(obj.maps)
}

/// Parse and number a list of specs.
pub fn parse_all(specs: &[String]) -> anyhow::Result<Vec<MapDef>> {
    let maps = specs
        .iter()
        .map(|s| parse(s).map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<Vec<_>>>()
        .context("--map")?;
    number(maps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        let m = parse("percpu_array:4:16:8").unwrap();
        assert_eq!(
            (m.kind, m.key_size, m.value_size, m.max_entries),
            (MapKind::PerCpuArray, 4, 16, 8)
        );
        assert!(parse("hash:8:8").is_err());
        assert!(parse("tree:8:8:8").unwrap_err().contains("not a map kind"));
        assert!(parse("hash:x:8:8").unwrap_err().contains("key size"));
        let all = parse_all(&["hash:8:8:1024".into(), "ringbuf:0:0:4096".into()]).unwrap();
        assert_eq!(all[1].name, "map1");
        assert!(parse_all(&["ringbuf:0:0:100".into()]).is_err());
    }
}
