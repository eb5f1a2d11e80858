//! Migrations whose comments were reworded after release.
//!
//! The first line of migrations 0001 and 0002 once cited a design note that is not in the
//! repository; it now points into `docs/architecture.md`. sqlx refuses to start when an
//! applied migration's SHA-384 differs from the file's, so a database migrated with the
//! released text has its recorded checksum brought up to date here. Only a checksum
//! listed below, the released text's, is replaced: any other difference still stops the
//! start, as sqlx means it to.

use sqlx::{AnyPool, AssertSqlSafe, Row};

use super::{DbError, DbKind};

/// (version, SHA-384 of the released text) per backend.
const RELEASED: [(DbKind, i64, &str); 6] = [
    (
        DbKind::Sqlite,
        1,
        "7a1d4cea0283956cddffa0cda1a496811e235f20778d78c1339bcb656d7b10a7618a8c9b1936d8e2217abbebdd2057d3",
    ),
    (
        DbKind::Sqlite,
        2,
        "82a5731599b429bbeb306badc283e20e8111346a7075efa7fd07e97cd2c0c98d071b87c3a1eb3fd669b2360694d04225",
    ),
    (
        DbKind::MySql,
        1,
        "9e152e0bb21252924b5605a45ebe523aaae4e794cd1f36fc63846e208ed3773e1c3cb8557d4d66f13a7f2ee642c49d83",
    ),
    (
        DbKind::MySql,
        2,
        "4cf86d1957d9efb302c2a9d46e39a06031fb1ed6da4cd2dd33f60f7bdf1653b761788d5aa0b07f62fa101083b084fe55",
    ),
    (
        DbKind::Postgres,
        1,
        "2372144aefa74e109ffbbf27368fb1b6693eac13f18106a4c55c7b9940e6c33a7ff4af72e9e6d384e29f750cff805035",
    ),
    (
        DbKind::Postgres,
        2,
        "9d6d1fb390f772d70f98b0920fbf0bec07ab99e932fbaa2ca424e611283422067336cbfd1259b0fdc86815dc77df7558",
    ),
];

/// Replaces the released checksums of reworded migrations with the current ones.
pub(super) async fn update_checksums(pool: &AnyPool, backend: DbKind) -> Result<(), DbError> {
    let exists = match backend {
        DbKind::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
        }
        DbKind::MySql => {
            "SELECT COUNT(*) FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_name = '_sqlx_migrations'"
        }
        DbKind::Postgres => {
            "SELECT COUNT(*) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'"
        }
    };
    let tables: i64 = sqlx::query(exists).fetch_one(pool).await?.try_get(0)?;
    if tables == 0 {
        return Ok(());
    }
    let applied = sqlx::query("SELECT version, checksum FROM _sqlx_migrations")
        .fetch_all(pool)
        .await?;
    for row in applied {
        let version: i64 = row.try_get(0)?;
        let checksum: Vec<u8> = row.try_get(1)?;
        let released = RELEASED
            .iter()
            .any(|&(kind, v, sum)| kind == backend && v == version && sum == hex(&checksum));
        let current = backend.migrator().iter().find(|m| m.version == version);
        if let (true, Some(current)) = (released, current) {
            sqlx::query(AssertSqlSafe(
                backend.sql("UPDATE _sqlx_migrations SET checksum = ? WHERE version = ?"),
            ))
            .bind(current.checksum.to_vec())
            .bind(version)
            .execute(pool)
            .await?;
        }
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
