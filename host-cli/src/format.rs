//! Number formatting for reports: `134,515,008`, `134.52 M`, `93.81 MiB`.

/// `1234567` -> `"1,234,567"`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A count with an SI suffix and two decimals: `134515008` -> `"134.52 M"`.
pub fn si(n: u64) -> String {
    const UNITS: [(f64, &str); 4] = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")];
    let x = n as f64;
    for (scale, unit) in UNITS {
        if x >= scale {
            return format!("{:.2} {unit}", x / scale);
        }
    }
    n.to_string()
}

/// Bytes in binary units: `98362432` -> `"93.81 MiB"`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut x = n as f64;
    let mut unit = 0;
    while x >= 1024.0 && unit + 1 < UNITS.len() {
        x /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{x:.2} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(134_515_008), "134,515,008");
        assert_eq!(si(134_515_008), "134.52 M");
        assert_eq!(si(512), "512");
        assert_eq!(bytes(98_362_432), "93.81 MiB");
        assert_eq!(bytes(100), "100 B");
    }
}
