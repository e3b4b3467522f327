//! Fresh databases on the PostgreSQL and MariaDB servers CI provides.

use sqlx::Connection;

/// A fresh database on a server, dropped at the end.
pub(crate) struct TestDb {
    admin: String,
    name: String,
    postgres: bool,
    pub(crate) url: String,
}

/// The database goes when the test ends, passed or failed: dropped (connections and all, on
/// PostgreSQL) on a thread and runtime of its own, since the test's runtime may be the one
/// unwinding.
impl Drop for TestDb {
    fn drop(&mut self) {
        let (admin, postgres) = (self.admin.clone(), self.postgres);
        let sql = if postgres {
            format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)
        } else {
            format!("DROP DATABASE IF EXISTS {}", self.name)
        };
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(admin_sql(&admin, postgres, sql));
        })
        .join();
    }
}

/// A fresh database on the server whose URL is in `var` (PostgreSQL or MariaDB), or `None`
/// (saying so) when the variable is unset.
pub(crate) async fn fresh_db(var: &str, postgres: bool) -> Option<TestDb> {
    let admin = crate::support::outside(var, "CI sets it to its own server")?;
    let name = format!("esg_lake_{}", uuid::Uuid::new_v4().simple());
    admin_sql(&admin, postgres, format!("CREATE DATABASE {name}")).await;
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(&format!("/{name}"));
    Some(TestDb {
        admin,
        name,
        postgres,
        url: url.to_string(),
    })
}

/// Runs one statement on the server's admin URL.
async fn admin_sql(admin: &str, postgres: bool, sql: String) {
    let sql = sqlx::AssertSqlSafe(sql);
    if postgres {
        let mut c = sqlx::PgConnection::connect(admin).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
    } else {
        let mut c = sqlx::MySqlConnection::connect(admin).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
    }
}
