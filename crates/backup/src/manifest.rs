//! The manifest of a backup set: what it covers, where it came from, and the size and SHA-256
//! of each of its files.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

pub const FORMAT: u32 = 1;
pub const MANIFEST_FILE: &str = "manifest.json";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
#[ts(export, rename = "BackupKind")]
pub enum Kind {
    /// Taken by the user.
    Manual,
    /// Taken by Sirius Deck before a restore or an environment switch, to undo it.
    Safety,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Manual => "manual",
            Kind::Safety => "safety",
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    /// A `pg_dump` (custom format, uncompressed) of one database, compressed with zstd.
    Database,
    /// A tar of one named volume, compressed with zstd.
    Volume,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub kind: ItemKind,
    /// The service (database) or the volume's key in the compose files (volume).
    pub name: String,
    /// Database: the database name and the role that owns the dump.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Database: `pg_dump --version` of the server container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// Volume: its name on the engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    /// The file in the set.
    pub file: String,
    /// Bytes of the file, and its SHA-256 (hex).
    pub size: u64,
    pub sha256: String,
    /// Bytes before compression.
    pub raw_size: u64,
}

impl Item {
    /// `db:<service>` or `volume:<key>`: what `restore --only` names.
    pub fn id(&self) -> String {
        match self.kind {
            ItemKind::Database => format!("db:{}", self.name),
            ItemKind::Volume => format!("volume:{}", self.name),
        }
    }

    /// Whether `--only <sel>` selects this item: its id, or its bare name.
    pub fn matches(&self, sel: &str) -> bool {
        sel == self.id() || sel == self.name
    }

    pub fn describe(&self) -> String {
        match self.kind {
            ItemKind::Database => format!("database {} of {}", self.database.as_deref().unwrap_or("?"), self.name),
            ItemKind::Volume => format!("volume {}", self.volume.as_deref().unwrap_or(&self.name)),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageInfo {
    pub image: String,
    pub id: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub id: String,
    pub kind: Kind,
    /// The stack profile and the compose project.
    pub stack: String,
    pub project: String,
    pub env: Option<String>,
    /// RFC 3339, UTC, and seconds since the epoch.
    pub created: String,
    pub created_unix: u64,
    pub engine_version: String,
    pub api_version: String,
    /// `sirius-deck <version>`.
    pub tool: String,
    /// The image each service ran when the set was taken.
    pub images: BTreeMap<String, ImageInfo>,
    pub items: Vec<Item>,
    pub elapsed_ms: u64,
}

impl Manifest {
    pub fn total_size(&self) -> u64 {
        self.items.iter().map(|i| i.size).sum()
    }

    pub fn parse(text: &str) -> Result<Manifest, String> {
        let m: Manifest = serde_json::from_str(text).map_err(|e| format!("unreadable manifest: {e}"))?;
        if m.format != FORMAT {
            return Err(format!(
                "manifest format {} is not the one this version reads ({FORMAT})",
                m.format
            ));
        }
        for item in &m.items {
            let bad = item.file.is_empty()
                || item.file.contains('/')
                || item.file.starts_with('.')
                || item.file == MANIFEST_FILE
                || item.sha256.len() != 64;
            if bad {
                return Err(format!("manifest names an invalid file for {}", item.id()));
            }
        }
        Ok(m)
    }
}

/// A file name for an item: letters, digits, `-`, `_` and `.` only.
pub fn file_name(kind: ItemKind, name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    match kind {
        ItemKind::Database => format!("db-{safe}.dump.zst"),
        ItemKind::Volume => format!("volume-{safe}.tar.zst"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item() -> Item {
        Item {
            kind: ItemKind::Volume,
            name: "valkey_data".into(),
            database: None,
            user: None,
            tool: None,
            volume: Some("lab_valkey_data".into()),
            file: "volume-valkey_data.tar.zst".into(),
            size: 10,
            sha256: "a".repeat(64),
            raw_size: 20,
        }
    }

    #[test]
    fn items_are_selected_by_id_or_name() {
        let i = item();
        assert!(i.matches("volume:valkey_data"));
        assert!(i.matches("valkey_data"));
        assert!(!i.matches("db:valkey_data"));
    }

    #[test]
    fn file_names_cannot_escape_the_set() {
        assert_eq!(file_name(ItemKind::Volume, "../x/y"), "volume-.._x_y.tar.zst");
        assert_eq!(
            file_name(ItemKind::Database, "sirius-postgres"),
            "db-sirius-postgres.dump.zst"
        );
    }

    #[test]
    fn a_manifest_naming_a_path_is_refused() {
        let mut m = Manifest {
            format: FORMAT,
            id: "x".into(),
            kind: Kind::Manual,
            stack: "s".into(),
            project: "p".into(),
            env: None,
            created: String::new(),
            created_unix: 0,
            engine_version: String::new(),
            api_version: String::new(),
            tool: String::new(),
            images: BTreeMap::new(),
            items: vec![item()],
            elapsed_ms: 0,
        };
        let ok = serde_json::to_string(&m).expect("serialises");
        assert!(Manifest::parse(&ok).is_ok());
        m.items[0].file = "../../etc/passwd".into();
        let bad = serde_json::to_string(&m).expect("serialises");
        assert!(Manifest::parse(&bad).is_err());
        m.items[0].file = "volume-valkey_data.tar.zst".into();
        m.format = 99;
        let newer = serde_json::to_string(&m).expect("serialises");
        assert!(Manifest::parse(&newer).expect_err("an error").contains("format 99"));
    }
}
