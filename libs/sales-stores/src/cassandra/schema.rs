//! Applies the ordered files of `cql/` (`NNN_name.cql`), each statement once, all idempotent.

use std::path::Path;

use anyhow::Context;
use scylla::client::session::Session;

/// The statements of every `.cql` file in `dir`, in file-name order, with comments removed, the
/// keyspace renamed from `sales` to `keyspace`, and the keyspace's replication map replaced by
/// `replication` when given.
pub fn statements(
    dir: &Path,
    keyspace: &str,
    replication: Option<&str>,
) -> anyhow::Result<Vec<String>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the schema directory {}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "cql"))
        .collect();
    files.sort();
    let mut statements = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let code: String = text
            .lines()
            .map(|line| line.split("--").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        for statement in code.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            statements.push(adapt(statement, keyspace, replication));
        }
    }
    Ok(statements)
}

fn adapt(statement: &str, keyspace: &str, replication: Option<&str>) -> String {
    let mut statement = statement
        .replace(
            "KEYSPACE IF NOT EXISTS sales",
            &format!("KEYSPACE IF NOT EXISTS {keyspace}"),
        )
        .replace(" sales.", &format!(" {keyspace}."));
    if let (Some(map), Some(at)) = (replication, statement.find("replication = {")) {
        if let Some(end) = statement[at..].find('}') {
            statement.replace_range(at..at + end + 1, &format!("replication = {map}"));
        }
    }
    statement
}

/// Runs every statement of `cql/` against the session.
pub async fn apply(
    session: &Session,
    dir: &Path,
    keyspace: &str,
    replication: Option<&str>,
) -> anyhow::Result<usize> {
    let statements = statements(dir, keyspace, replication)?;
    for statement in &statements {
        session
            .query_unpaged(statement.as_str(), ())
            .await
            .with_context(|| format!("schema statement failed: {statement}"))?;
    }
    Ok(statements.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cql_dir() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../cql")
    }

    #[test]
    fn the_schema_creates_the_keyspace_then_every_table() {
        let statements = statements(&cql_dir(), "sales", None).unwrap();
        assert!(statements[0].starts_with("CREATE KEYSPACE IF NOT EXISTS sales"));
        for table in [
            "orders_by_id",
            "orders_by_store_day",
            "orders_by_customer_month",
            "customer_months",
            "orders_by_day",
            "refunds_by_id",
            "refunds_by_order",
            "refunds_by_store_day",
            "refunds_by_day",
        ] {
            let create = format!("CREATE TABLE IF NOT EXISTS sales.{table} (");
            assert!(statements.iter().any(|s| s.starts_with(&create)), "{table}");
        }
        assert!(statements.iter().all(|s| !s.contains("--")));
    }

    #[test]
    fn keyspace_and_replication_can_be_changed() {
        let map = "{'class': 'NetworkTopologyStrategy', 'dc1': 3}";
        let statements = statements(&cql_dir(), "sales_test", Some(map)).unwrap();
        assert!(statements[0].contains("KEYSPACE IF NOT EXISTS sales_test"));
        assert!(statements[0].ends_with(&format!("replication = {map}")));
        assert!(statements[1..]
            .iter()
            .all(|s| s.contains(" sales_test.") && !s.contains(" sales.")));
    }
}
