//! The application: one [`App`], built from [`Settings`], owns what the commands and the
//! daemon share — the Workiva client, the state store, the embedded emulator and the clock.
//! Each is made when first asked for (so `esg-sync runs` never starts an emulator and
//! `esg-sync inspect` never opens a store), once, and [`App::close`] closes what was made,
//! once: the store's connections, then the embedded tenant, saved to its state file.

use std::path::{Path, PathBuf};

use tokio::sync::OnceCell;

use crate::config::Settings;
use crate::emulator::{Emulator, EmulatorConfig, Seed, StartOptions};
use crate::scheduler::Clock;
use crate::store::Store;
use crate::workiva::{WorkivaClient, WorkivaConfig};

/// What commands run on. Build it with [`App::load`] or [`App::new`]; end it with
/// [`App::close`].
pub struct App {
    settings: Settings,
    clock: Clock,
    workiva: OnceCell<Workiva>,
    store: OnceCell<Store>,
}

/// The client, the `[workiva]` settings it was made from (pointed at the embedded emulator
/// when there is one), and that emulator.
struct Workiva {
    client: WorkivaClient,
    config: WorkivaConfig,
    embedded: Option<Embedded>,
}

impl App {
    /// Reads the settings (the file, then `ESG_SYNC__` overrides) and builds on them.
    pub fn load(config: Option<&Path>) -> anyhow::Result<Self> {
        Ok(Self::new(Settings::load(config)?))
    }

    /// An application on these settings and the system's clock.
    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            clock: Clock::System,
            workiva: OnceCell::new(),
            store: OnceCell::new(),
        }
    }

    /// The same application on another clock (tests drive a virtual one).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The Workiva client; the first call starts the embedded emulator if the settings ask
    /// for one (`[emulator] embedded = true`) and points the client at it.
    pub async fn client(&self) -> anyhow::Result<&WorkivaClient> {
        Ok(&self.workiva().await?.client)
    }

    /// The `[workiva]` settings the client was made from.
    pub async fn workiva_config(&self) -> anyhow::Result<&WorkivaConfig> {
        Ok(&self.workiva().await?.config)
    }

    async fn workiva(&self) -> anyhow::Result<&Workiva> {
        self.workiva
            .get_or_try_init(|| async {
                let mut config = self.settings.workiva.clone();
                let embedded = Embedded::start(&self.settings.emulator, &mut config).await?;
                // A bad [workiva] section must not leave an emulator running.
                let client = match WorkivaClient::new(config.clone()) {
                    Ok(c) => c,
                    Err(e) => {
                        if let Some(emu) = embedded {
                            emu.emu.shutdown().await;
                        }
                        return Err(e.into());
                    }
                };
                Ok(Workiva {
                    client,
                    config,
                    embedded,
                })
            })
            .await
    }

    /// The state store, opened (and migrated) on the first call.
    pub async fn store(&self) -> anyhow::Result<&Store> {
        self.store
            .get_or_try_init(|| async { Ok(Store::open(&self.settings.store).await?) })
            .await
    }

    /// Closes what was made: the store's connections, then the embedded emulator, its
    /// tenant saved to `[emulator] state_file`.
    pub async fn close(self) -> anyhow::Result<()> {
        if let Some(store) = self.store.into_inner() {
            store.close().await;
        }
        match self.workiva.into_inner().and_then(|w| w.embedded) {
            Some(e) => e.save().await,
            None => Ok(()),
        }
    }
}

/// An emulator started in process because the settings say so, with its tenant loaded from
/// (and saved back to) `state_file`.
struct Embedded {
    emu: Emulator,
    state_file: Option<PathBuf>,
}

impl Embedded {
    /// Starts the emulator when `[emulator] embedded = true` and points `workiva` at it (the
    /// demo client's credentials unless others are configured).
    async fn start(
        e: &crate::config::EmbeddedEmulator,
        workiva: &mut WorkivaConfig,
    ) -> anyhow::Result<Option<Self>> {
        if !e.embedded {
            return Ok(None);
        }
        let seed = match e.state_file.as_deref().filter(|f| f.exists()) {
            Some(f) => Seed::from_file(f)?,
            None => Seed::build(e.demo, e.seed.as_deref())?,
        };
        let emu = Emulator::start(
            EmulatorConfig::default(),
            StartOptions {
                admin: false,
                seed: Some(seed),
                ..StartOptions::default()
            },
        )
        .await?;
        tracing::info!(url = %emu.base_url(), "Started the embedded Workiva emulator.");
        workiva.base_url = Some(emu.base_url());
        workiva.token_url = None;
        if workiva.client_id.is_empty() {
            workiva.client_id = "demo".into();
        }
        if workiva.client_secret.is_none() && workiva.client_secret_file.is_none() {
            workiva.provided_secret = Some(secrecy::SecretString::from("demo-secret"));
        }
        Ok(Some(Self {
            emu,
            state_file: e.state_file.clone(),
        }))
    }

    /// Stops the emulator, its tenant saved first.
    async fn save(self) -> anyhow::Result<()> {
        let saved = match &self.state_file {
            Some(f) => write_tenant(f, &self.emu.export()),
            None => Ok(()),
        };
        self.emu.shutdown().await;
        saved
    }
}

/// Written whole to a private temporary file, then renamed over the old one: a crash never
/// leaves half a tenant, and the file is this user's only (0600).
fn write_tenant(f: &Path, tenant: &impl serde::Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(tenant)?;
    let tmp = f.with_extension("json.tmp");
    let _ = std::fs::remove_file(&tmp);
    let saved = crate::outcome::private_file(&tmp)
        .and_then(|()| std::fs::write(&tmp, text))
        .and_then(|()| std::fs::rename(&tmp, f));
    saved.map_err(|e| anyhow::anyhow!("cannot save the emulated tenant to {}: {e}", f.display()))
}
