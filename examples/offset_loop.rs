//! The batched data migration of a common guide, for bench/backfill to compare runsheet's
//! backfill with: `SELECT * … LIMIT 1000 OFFSET n`, then the batch's rows updated by id and
//! committed, then `n += 1000`, until a SELECT returns nothing. Each SELECT reads and throws
//! away the n rows before its batch, so the loop costs O(n²).
//!
//! The guide's SELECT has no ORDER BY; here it orders by id, because a table being updated
//! moves its new row versions around the heap and an unordered OFFSET then skips and repeats
//! rows. The guide writes row by row; here one UPDATE … WHERE id = ANY($1) writes a batch, so
//! the loop pays for its OFFSET and little else.
//!
//! cargo run --release --example offset_loop -- --database-url URL --table legacy \
//!     --set "external_reference = upper(trim(legacy_ref))" --where "legacy_ref IS NOT NULL"

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection, Row};

#[derive(Parser)]
struct Args {
    #[arg(long)]
    database_url: String,
    /// A table with a bigint `id` primary key.
    #[arg(long)]
    table: String,
    /// The SET clause of the UPDATE.
    #[arg(long)]
    set: String,
    /// Which of the batch's rows to update.
    #[arg(long = "where")]
    filter: Option<String>,
    #[arg(long, default_value_t = 1000)]
    batch_size: i64,
    /// Print the SELECT's time every this many batches.
    #[arg(long, default_value_t = 100)]
    report_every: u64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("offset_loop: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), sqlx::Error> {
    let mut conn = PgConnection::connect(&args.database_url).await?;
    let select = format!("SELECT * FROM {} ORDER BY id LIMIT $1 OFFSET $2", args.table);
    let filter = args.filter.as_deref().map(|f| format!(" AND ({f})")).unwrap_or_default();
    let update = format!("UPDATE {} SET {} WHERE id = ANY($1){filter}", args.table, args.set);
    let started = Instant::now();
    let (mut offset, mut batches, mut updated) = (0i64, 0u64, 0u64);
    let mut selecting = Duration::ZERO;
    loop {
        let mut tx = conn.begin().await?;
        let began = Instant::now();
        let rows =
            sqlx::query(AssertSqlSafe(select.as_str())).bind(args.batch_size).bind(offset).fetch_all(&mut *tx).await?;
        let took = began.elapsed();
        selecting += took;
        if rows.is_empty() {
            break;
        }
        let ids = rows.iter().map(|r| r.try_get::<i64, _>("id")).collect::<Result<Vec<_>, _>>()?;
        let done = sqlx::query(AssertSqlSafe(update.as_str())).bind(&ids).execute(&mut *tx).await?;
        tx.commit().await?;
        updated += done.rows_affected();
        batches += 1;
        offset += args.batch_size;
        if batches.is_multiple_of(args.report_every) {
            eprintln!(
                "offset_loop: offset {offset}: last SELECT {:.0} ms, {:.1} s in",
                took.as_secs_f64() * 1000.0,
                started.elapsed().as_secs_f64()
            );
        }
    }
    println!(
        "offset_loop: {batches} batches, {updated} rows updated, {:.1} s ({:.1} s in the SELECTs)",
        started.elapsed().as_secs_f64(),
        selecting.as_secs_f64()
    );
    Ok(())
}
