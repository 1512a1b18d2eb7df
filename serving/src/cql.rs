//! The two Cassandra read helpers the order reads and reconciliation share: preparing a
//! statement, and reading every row of one.

use anyhow::Context;
use futures::TryStreamExt;
use scylla::client::session::Session;
use scylla::deserialize::row::DeserializeRow;
use scylla::serialize::row::SerializeRow;
use scylla::statement::prepared::PreparedStatement;

/// Prepares `cql`; fails naming the statement the schema cannot take.
pub async fn prepare(session: &Session, cql: String) -> anyhow::Result<PreparedStatement> {
    session
        .prepare(cql.as_str())
        .await
        .with_context(|| format!("cannot prepare {cql}"))
}

/// Every row `statement` selects, read page by page from the driver: for reads that want the whole
/// answer (a sale's refunds, a customer's months, one millisecond of a partition, a day's bucket
/// for reconciliation), never for a page of a list that grows with the history.
pub async fn all_rows<R>(
    session: &Session,
    statement: &PreparedStatement,
    values: impl SerializeRow,
) -> anyhow::Result<Vec<R>>
where
    R: for<'f, 'm> DeserializeRow<'f, 'm> + 'static,
{
    Ok(session
        .execute_iter(statement.clone(), values)
        .await?
        .rows_stream::<R>()?
        .try_collect()
        .await?)
}
