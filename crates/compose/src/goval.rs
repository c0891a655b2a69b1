//! Plain YAML scalars read as compose reads them: Go's `yaml.v3` decides the type of an unquoted
//! scalar (`022` is the octal integer 18, `1.0` a float, `2024-01-02` a timestamp, `True` a
//! boolean, `~` null) and compose turns the value back into text with Go's `%v` where it wants
//! a string (`environment`, `labels`, `sysctls`, build args ...). So `1.0` becomes `1`, `0x1F`
//! becomes `31`, `1e6` becomes `1e+06`. Quoted scalars and interpolated values stay as written.

/// A scalar's value as `yaml.v3` decodes it into an untyped Go value.
#[derive(Clone, Debug, PartialEq)]
pub enum GoScalar {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    /// A date (`YYYY-MM-DD`), printed by Go as midnight UTC.
    Date(String),
    Str(String),
}

/// The type `yaml.v3` resolves an unquoted scalar to.
pub fn resolve_plain(text: &str) -> GoScalar {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return GoScalar::Null,
        "true" | "True" | "TRUE" => return GoScalar::Bool(true),
        "false" | "False" | "FALSE" => return GoScalar::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return GoScalar::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return GoScalar::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return GoScalar::Float(f64::NAN),
        _ => {}
    }
    let first = text.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.')) {
        return GoScalar::Str(text.to_string());
    }
    if is_date(text) {
        return GoScalar::Date(text.to_string());
    }
    let plain = text.replace('_', "");
    if let Some(i) = parse_go_int(&plain) {
        return GoScalar::Int(i);
    }
    if is_yaml_float(&plain) {
        if let Ok(f) = plain.parse::<f64>() {
            return GoScalar::Float(f);
        }
    }
    GoScalar::Str(text.to_string())
}

/// `YYYY-M-D`: the one timestamp form compose files meet in practice.
fn is_date(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 3
        && parts[0].len() == 4
        && (1..=2).contains(&parts[1].len())
        && (1..=2).contains(&parts[2].len())
        && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

/// Go's `strconv.ParseInt(s, 0, 64)`, then `ParseUint`: sign, `0x`/`0o`/`0b` prefixes, and a
/// leading `0` for octal.
fn parse_go_int(s: &str) -> Option<i128> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let v = u64::from_str_radix(digits, radix).ok()? as i128;
    let v = if neg { -v } else { v };
    // ParseInt fits i64; ParseUint (no sign) fits u64.
    if (i64::MIN as i128..=i64::MAX as i128).contains(&v) || (!neg && !s.starts_with('+')) {
        Some(v)
    } else {
        None
    }
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_float(s: &str) -> bool {
    let b = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mantissa, exp) = match b.find(['e', 'E']) {
        Some(i) => (&b[..i], Some(&b[i + 1..])),
        None => (b, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => digits(frac),
        Some((int, frac)) => digits(int) && (frac.is_empty() || digits(frac)),
        None => digits(mantissa),
    };
    let exp_ok = exp.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    mantissa_ok && exp_ok
}

impl GoScalar {
    /// Go's `fmt.Sprint` of the value; `None` for null.
    pub fn sprint(&self) -> Option<String> {
        Some(match self {
            GoScalar::Null => return None,
            GoScalar::Bool(b) => b.to_string(),
            GoScalar::Int(i) => i.to_string(),
            GoScalar::Float(f) => format_g(*f),
            GoScalar::Date(d) => {
                let p: Vec<&str> = d.split('-').collect();
                format!("{}-{:0>2}-{:0>2} 00:00:00 +0000 UTC", p[0], p[1], p[2])
            }
            GoScalar::Str(s) => s.clone(),
        })
    }
}

/// The text compose makes of a scalar where it wants a string: quoted as written, plain as
/// `yaml.v3` typed it and Go prints it. `None` for a plain null.
pub fn scalar_text(text: &str, quoted: bool) -> Option<String> {
    if quoted {
        Some(text.to_string())
    } else {
        resolve_plain(text).sprint()
    }
}

/// Go's `%v` of a float64 (`strconv.FormatFloat(f, 'g', -1, 64)`): the shortest digits that
/// read back the same, in `%e` form when the exponent is below -4 or reaches the precision (6,
/// or fewer digits for a short whole number).
pub fn format_g(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "1.2345e8".
    let e = format!("{f:e}");
    let (mantissa, exp) = e.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("numeric exponent");
    let neg = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let nd = digits.len() as i32;
    let dp = exp + 1; // position of the decimal point within the digits
    let mut eprec = 6;
    if eprec > nd && nd >= dp {
        eprec = nd;
    }
    let sign = if neg { "-" } else { "" };
    if exp < -4 || exp >= eprec {
        let mut m = digits[..1].to_string();
        if nd > 1 {
            m.push('.');
            m.push_str(&digits[1..]);
        }
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{m}e{esign}{:02}", exp.abs())
    } else if dp <= 0 {
        format!("{sign}0.{}{digits}", "0".repeat((-dp) as usize))
    } else if dp >= nd {
        format!("{sign}{digits}{}", "0".repeat((dp - nd) as usize))
    } else {
        format!("{sign}{}.{}", &digits[..dp as usize], &digits[dp as usize..])
    }
}

/// Go's JSON encoding of a `float32` (compose's `cpus`, `cpu_percent`): the shortest digits of
/// the float32, as an integer when whole.
pub fn float32_json(f: f64) -> serde_json::Value {
    let s = (f as f32).to_string();
    match s.parse::<i64>() {
        Ok(i) => serde_json::Value::from(i),
        Err(_) => s
            .parse::<serde_json::Number>()
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_scalars_as_compose_prints_them() {
        for (text, want) in [
            ("022", Some("18")),
            ("0x1F", Some("31")),
            ("0o17", Some("15")),
            ("0b101", Some("5")),
            ("1.0", Some("1")),
            ("1.50", Some("1.5")),
            ("1e3", Some("1000")),
            ("1e6", Some("1e+06")),
            ("123456789.0", Some("1.23456789e+08")),
            ("0.00001", Some("1e-05")),
            ("0.0001", Some("0.0001")),
            ("-5", Some("-5")),
            ("1_000", Some("1000")),
            ("True", Some("true")),
            ("yes", Some("yes")),
            ("on", Some("on")),
            ("~", None),
            (".inf", Some("+Inf")),
            ("2024-01-02", Some("2024-01-02 00:00:00 +0000 UTC")),
            ("1.2.3", Some("1.2.3")),
            ("09", Some("9")),
            ("+1", Some("1")),
            ("18446744073709551615", Some("18446744073709551615")),
            ("99999999999999999999", Some("1e+20")),
            ("abc", Some("abc")),
        ] {
            assert_eq!(scalar_text(text, false).as_deref(), want, "{text}");
        }
        assert_eq!(scalar_text("022", true).as_deref(), Some("022"));
    }

    #[test]
    fn float32_as_json() {
        assert_eq!(float32_json(1.0).to_string(), "1");
        assert_eq!(float32_json(0.5).to_string(), "0.5");
        assert_eq!(float32_json(0.1).to_string(), "0.1");
    }
}
