//! Parsers for compose's short value syntaxes: ports, volume mounts, durations, byte sizes.
//! Pure functions, shared by the merge step (to find which items are "the same") and the
//! typed model.

use std::time::Duration;

/// A port as written in short syntax, before range expansion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortSpec {
    pub host_ip: Option<String>,
    /// Host port or range, as written (`"3000"`, `"8000-8010"`); `None` for an ephemeral port.
    pub published: Option<String>,
    pub target: (u16, u16),
    pub protocol: String,
}

fn parse_port_range(s: &str, what: &str) -> Result<(u16, u16), String> {
    let one = |p: &str| -> Result<u16, String> {
        match p.trim().parse::<u32>() {
            Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
            _ => Err(format!("{what} '{p}' is not a port number from 1 to 65535")),
        }
    };
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (one(a)?, one(b)?);
            if b < a {
                return Err(format!("{what} range '{s}' ends before it starts"));
            }
            Ok((a, b))
        }
        None => one(s).map(|p| (p, p)),
    }
}

/// `[HOST_IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/PROTOCOL]`, IPv6 hosts in brackets.
pub fn parse_port(s: &str) -> Result<PortSpec, String> {
    let s = s.trim();
    let (addr, protocol) = match s.rsplit_once('/') {
        Some((a, p)) => (a, p.to_ascii_lowercase()),
        None => (s, "tcp".to_string()),
    };
    if !matches!(protocol.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("protocol '{protocol}' is not tcp, udp or sctp"));
    }
    let (host_ip, rest) = if let Some(r) = addr.strip_prefix('[') {
        let (ip, rest) = r
            .split_once("]:")
            .ok_or_else(|| format!("'{s}': an IPv6 host address is written [ADDR]:HOST_PORT:CONTAINER_PORT"))?;
        (Some(ip.to_string()), rest)
    } else {
        let parts: Vec<&str> = addr.split(':').collect();
        match parts.len() {
            1 | 2 => (None, addr),
            3 => (Some(parts[0].to_string()), &addr[parts[0].len() + 1..]),
            _ => {
                return Err(format!(
                    "'{s}' has too many ':' (expected [HOST_IP:][HOST_PORT:]CONTAINER_PORT)"
                ))
            }
        }
    };
    let (published, target) = match rest.split_once(':') {
        Some((p, t)) => (if p.is_empty() { None } else { Some(p) }, t),
        None => (None, rest),
    };
    let target_range = parse_port_range(target, "container port")?;
    if let Some(p) = published {
        let pr = parse_port_range(p, "host port")?;
        let (pn, tn) = (pr.1 - pr.0, target_range.1 - target_range.0);
        if tn != 0 && pn != tn {
            return Err(format!("'{s}': host and container port ranges differ in size"));
        }
    }
    if let Some(ip) = &host_ip {
        if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
            return Err(format!("'{ip}' is not an IP address"));
        }
    }
    Ok(PortSpec {
        host_ip: host_ip.filter(|ip| !ip.is_empty()),
        published: published.map(str::to_string),
        target: target_range,
        protocol,
    })
}

/// A volume mount in short syntax: `[SOURCE:]TARGET[:MODE]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountSpec {
    pub source: Option<String>,
    pub target: String,
    pub options: Vec<String>,
}

impl MountSpec {
    /// A source that is a path (and not a volume name) makes a bind mount.
    pub fn is_bind(&self) -> bool {
        self.source.as_deref().is_some_and(|s| s.starts_with(['/', '.', '~']))
    }
}

pub fn parse_mount(s: &str) -> Result<MountSpec, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [t] => (None, *t, None),
        [s, t] => (Some(*s), *t, None),
        [s, t, m] => (Some(*s), *t, Some(*m)),
        _ => return Err(format!("'{s}' has too many ':' (expected SOURCE:TARGET[:MODE])")),
    };
    if target.is_empty() || !target.starts_with('/') {
        return Err(format!(
            "mount target '{target}' must be an absolute path in the container"
        ));
    }
    if source == Some("") {
        return Err(format!("'{s}' has an empty source"));
    }
    let options: Vec<String> = mode
        .map(|m| m.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    for o in &options {
        if !matches!(
            o.as_str(),
            "ro" | "rw"
                | "z"
                | "Z"
                | "nocopy"
                | "shared"
                | "rshared"
                | "slave"
                | "rslave"
                | "private"
                | "rprivate"
                | "consistent"
                | "cached"
                | "delegated"
        ) {
            return Err(format!(
                "unknown mount option '{o}' (use ro, rw, z, Z, nocopy or a propagation mode)"
            ));
        }
    }
    Ok(MountSpec {
        source: source.map(str::to_string),
        target: target.to_string(),
        options,
    })
}

/// Go-style durations as compose writes them: `1h30m`, `10s`, `1.5s`, `500ms`, `0`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let bad = || format!("'{s}' is not a duration: write a number with a unit, like 30s, 1m30s or 500ms");
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    if t.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    let mut rest = t;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(bad)?;
        let n: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += n * unit;
        rest = &rest[unit_len..];
    }
    if !total.is_finite() || total > 1e12 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(total))
}

/// Formats a duration the way `docker compose config` prints it (Go's `time.Duration`).
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000_000_000 {
        return if nanos.is_multiple_of(1_000_000) {
            format!("{}ms", nanos / 1_000_000)
        } else if nanos.is_multiple_of(1_000) {
            format!("{}µs", nanos / 1_000)
        } else {
            format!("{nanos}ns")
        };
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let frac = d.subsec_nanos();
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if frac == 0 {
        out.push_str(&format!("{s}s"));
    } else {
        let f = format!("{:09}", frac);
        out.push_str(&format!("{s}.{}s", f.trim_end_matches('0')));
    }
    out
}

/// Byte sizes as Docker reads them (`RAMInBytes`): 1024-based, `b k m g t p` with an optional
/// `b` or `ib`, case-insensitive, fractions allowed.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim().to_ascii_lowercase();
    let bad = || format!("'{s}' is not a size: write a number of bytes or a number with a unit, like 512m or 1g");
    let num_len = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    if num_len == 0 {
        return Err(bad());
    }
    let n: f64 = t[..num_len].parse().map_err(|_| bad())?;
    let unit = t[num_len..].trim();
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b'))
        .unwrap_or(unit);
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024f64.powi(2),
        "g" => 1024f64.powi(3),
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => return Err(bad()),
    };
    let v = n * mult;
    if !v.is_finite() || v >= u64::MAX as f64 {
        return Err(bad());
    }
    Ok(v as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Port forms from the compose specification's `ports` section.
    #[test]
    fn ports_table() {
        let p = |s: &str| parse_port(s).expect(s);
        assert_eq!(p("3000").target, (3000, 3000));
        assert_eq!(p("3000").published, None);
        assert_eq!(p("3000-3005").target, (3000, 3005));
        assert_eq!(p("8000:8000").published.as_deref(), Some("8000"));
        assert_eq!(p("9090-9091:8080-8081").target, (8080, 8081));
        assert_eq!(p("49100:22").target, (22, 22));
        assert_eq!(p("8000-8010:80").published.as_deref(), Some("8000-8010"));
        let x = p("127.0.0.1:8001:8001");
        assert_eq!(x.host_ip.as_deref(), Some("127.0.0.1"));
        let x = p("127.0.0.1::5000");
        assert_eq!((x.host_ip.as_deref(), x.published), (Some("127.0.0.1"), None));
        assert_eq!(p("6060:6060/udp").protocol, "udp");
        assert_eq!(p("[::1]:6001:6001").host_ip.as_deref(), Some("::1"));
        for bad in [
            "",
            "0",
            "70000",
            "a:b",
            "1:2:3:4",
            "80/xyz",
            "10-5",
            "1-3:1-2",
            "300.1.1.1:80:80",
        ] {
            assert!(parse_port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mounts_table() {
        let m = parse_mount("db:/var/lib/db:ro").expect("ok");
        assert_eq!(m.source.as_deref(), Some("db"));
        assert!(!m.is_bind());
        assert_eq!(m.options, vec!["ro"]);
        assert!(parse_mount("./src:/app/src").expect("ok").is_bind());
        assert!(parse_mount("~/configs:/etc/configs/:ro").expect("ok").is_bind());
        assert_eq!(parse_mount("/var/lib/mysql").expect("ok").source, None);
        for bad in ["relative", "a:b", "a:/b:bogus", "a:/b:c:d", ":/x"] {
            assert!(parse_mount(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_table() {
        let cases = [
            ("10s", 10_000),
            ("1m30s", 90_000),
            ("1h", 3_600_000),
            ("500ms", 500),
            ("1.5s", 1_500),
            ("0", 0),
            ("2h45m", 9_900_000),
        ];
        for (s, ms) in cases {
            assert_eq!(parse_duration(s).expect(s).as_millis(), ms, "{s}");
        }
        for bad in ["", "10", "s", "10x", "1..5s", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::from_secs(30)), "30s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(format_duration(Duration::from_secs(3600)), "1h0m0s");
    }

    #[test]
    fn bytes_table() {
        let cases = [
            ("512M", 536_870_912u64),
            ("1G", 1_073_741_824),
            ("1gb", 1_073_741_824),
            ("256m", 268_435_456),
            ("1024", 1024),
            ("1.5k", 1536),
            ("2GiB", 2_147_483_648),
        ];
        for (s, b) in cases {
            assert_eq!(parse_bytes(s).expect(s), b, "{s}");
        }
        for bad in ["", "G", "1x", "-1m", "1e400"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }
}
