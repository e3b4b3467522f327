//! Running the `esg-sync` binary to its end.

/// What a run of the `esg-sync` binary printed and how it ended.
pub struct Ran {
    /// `None` when a signal ended it (an abort at a failure point, a kill).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// Runs the binary from the package folder with quiet logs. Variables the caller's shell may
/// have set (secrets, overrides, failure points, a config path) are cleared first, so only
/// `envs` apply.
pub async fn run_esg(args: Vec<String>, envs: Vec<(&'static str, String)>) -> Ran {
    tokio::task::spawn_blocking(move || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_esg-sync"));
        cmd.args(&args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("RUST_LOG", "warn");
        for var in [
            "WORKIVA_CLIENT_SECRET",
            "ESG_SYNC__WORKIVA__CLIENT_ID",
            "ESG_SYNC_FAILPOINT",
            "ESG_SYNC_CONFIG",
        ] {
            cmd.env_remove(var);
        }
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("the binary runs");
        Ran {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).to_string(),
        }
    })
    .await
    .expect("the runner thread finishes")
}

/// `esg-sync run-now` on `cfg` with the test secret, stopped at `failpoint` if given.
pub(crate) async fn run_binary(
    cfg: std::path::PathBuf,
    failpoint: Option<&'static str>,
) -> crate::support::Ran {
    let mut envs = vec![("ESG_SYNC_TEST_SECRET", "demo-secret".to_string())];
    if let Some(f) = failpoint {
        envs.push(("ESG_SYNC_FAILPOINT", f.to_string()));
    }
    crate::support::run_esg(
        vec![
            "run-now".into(),
            "--config".into(),
            cfg.display().to_string(),
        ],
        envs,
    )
    .await
}
