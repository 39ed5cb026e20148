//! Local [`SecretStore`]: one JSON file, `secrets.json`, in the data dir.
//!
//! Layout: `{"<name>": {"versions": [{"id": "...", "value": "..."}], "deleted": false}}`, the
//! newest version last, the last [`KEEP_VERSIONS`] kept per name. A delete drops the values
//! from disk and marks the name deleted; a later put starts it again.
//!
//! Protection: the data dir is 0700 (fixed on open when it has broader bits) and the file is
//! 0600. A write goes to a temporary file created with mode 0600 before any byte is written,
//! is fsynced, then renamed over `secrets.json` (atomic), and the directory is fsynced. Every
//! write holds an exclusive advisory lock (`flock`) on `.secrets.json.lock` beside it from its
//! read to its rename, and re-reads the file under it, so two writers, in one process or in
//! several (the CLI and `riskflow dev` on the same data dir), never lose each other's changes.
//! Readers need no lock: the rename makes every read see one whole version of the file.

use super::{SecretError, SecretStore, SecretValue};
use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Versions kept per secret name (the current one and the one before).
pub const KEEP_VERSIONS: usize = 2;

const FILE_NAME: &str = "secrets.json";

/// The file writers lock (the secrets file itself is replaced on every write, so it cannot
/// carry the lock).
const LOCK_NAME: &str = ".secrets.json.lock";

/// One lock for every store in the process: two stores opened on the same dir still
/// serialise their read-modify-write cycles.
static WRITE_LOCK: Mutex<()> = Mutex::new(());

#[derive(Serialize, Deserialize, Default)]
struct Entry {
    #[serde(default)]
    versions: Vec<Version>,
    #[serde(default)]
    deleted: bool,
}

#[derive(Serialize, Deserialize)]
struct Version {
    id: String,
    value: String,
}

/// The file's contents (deliberately without `Debug`: it holds secret values).
type Contents = BTreeMap<String, Entry>;

/// The file secret store. Its `Debug` shows the directory only.
#[derive(Debug, Clone)]
pub struct FileSecretStore {
    dir: PathBuf,
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> SecretError {
    SecretError::Other(format!("{what} {}: {e}", path.display()))
}

impl FileSecretStore {
    /// Open the store in `dir`, creating the dir with mode 0700 (and narrowing an existing
    /// dir's or file's mode to 0700 / 0600).
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, SecretError> {
        let dir = dir.as_ref().to_path_buf();
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| io_err("cannot create the secrets directory", &dir, e))?;
        let meta = fs::metadata(&dir).map_err(|e| io_err("cannot read", &dir, e))?;
        if !meta.is_dir() {
            return Err(SecretError::Other(format!(
                "{} is not a directory",
                dir.display()
            )));
        }
        if meta.permissions().mode() & 0o777 != 0o700 {
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
                .map_err(|e| io_err("cannot restrict the permissions of", &dir, e))?;
        }
        let file = dir.join(FILE_NAME);
        match fs::symlink_metadata(&file) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(SecretError::Other(format!(
                    "{} is a symbolic link; refusing to use it",
                    file.display()
                )));
            }
            Ok(m) if m.permissions().mode() & 0o777 != 0o600 => {
                fs::set_permissions(&file, fs::Permissions::from_mode(0o600))
                    .map_err(|e| io_err("cannot restrict the permissions of", &file, e))?;
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("cannot read", &file, e)),
        }
        Ok(FileSecretStore { dir })
    }

    /// The data dir.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The secrets file.
    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    fn read(&self) -> Result<Contents, SecretError> {
        let path = self.path();
        match fs::read(&path) {
            Ok(bytes) if bytes.is_empty() => Ok(Contents::new()),
            // The parse error's message could quote the file; say where, not what.
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                SecretError::Other(format!(
                    "{} is not valid (line {}, column {})",
                    path.display(),
                    e.line(),
                    e.column()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Contents::new()),
            Err(e) => Err(io_err("cannot read", &path, e)),
        }
    }

    fn write(&self, contents: &Contents) -> Result<(), SecretError> {
        let bytes = serde_json::to_vec_pretty(contents)
            .map_err(|_| SecretError::Other("cannot encode the secrets file".into()))?;
        let tmp = self.dir.join(format!(
            ".{FILE_NAME}.{}.tmp",
            uuid::Uuid::new_v4().simple()
        ));
        let result = (|| {
            // Owner-only from the moment it exists: the mode is set by open(2) itself.
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(|e| io_err("cannot create", &tmp, e))?;
            f.write_all(&bytes)
                .map_err(|e| io_err("cannot write", &tmp, e))?;
            f.sync_all().map_err(|e| io_err("cannot sync", &tmp, e))?;
            drop(f);
            let path = self.path();
            fs::rename(&tmp, &path).map_err(|e| io_err("cannot replace", &path, e))?;
            // Make the rename itself durable.
            fs::File::open(&self.dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| io_err("cannot sync", &self.dir, e))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Hold the writers' lock across processes until the answer is dropped (closing the file
    /// releases the lock, also when the process dies).
    fn lock_writers(&self) -> Result<fs::File, SecretError> {
        let path = self.dir.join(LOCK_NAME);
        let f = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| io_err("cannot open", &path, e))?;
        rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| io_err("cannot lock", &path, e.into()))?;
        Ok(f)
    }

    fn put_blocking(&self, name: &str, value: String) -> Result<String, SecretError> {
        let _guard = WRITE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let _writers = self.lock_writers()?;
        let mut contents = self.read()?;
        let id = uuid::Uuid::new_v4().to_string();
        let entry = contents.entry(name.to_string()).or_default();
        if entry.deleted {
            entry.versions.clear();
            entry.deleted = false;
        }
        entry.versions.push(Version {
            id: id.clone(),
            value,
        });
        let excess = entry.versions.len().saturating_sub(KEEP_VERSIONS);
        entry.versions.drain(..excess);
        self.write(&contents)?;
        Ok(id)
    }

    fn get_blocking(
        &self,
        name: &str,
        version_id: Option<&str>,
    ) -> Result<SecretValue, SecretError> {
        let not_found = || SecretError::NotFound {
            name: name.to_string(),
        };
        let contents = {
            let _guard = WRITE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
            self.read()?
        };
        let entry = contents
            .get(name)
            .filter(|e| !e.deleted)
            .ok_or_else(not_found)?;
        let found = match version_id {
            Some(id) => entry.versions.iter().find(|v| v.id == id),
            None => entry.versions.last(),
        };
        found
            .map(|v| SecretValue {
                version_id: v.id.clone(),
                value: SecretString::from(v.value.clone()),
            })
            .ok_or_else(not_found)
    }

    fn delete_blocking(&self, name: &str) -> Result<(), SecretError> {
        let _guard = WRITE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let _writers = self.lock_writers()?;
        let mut contents = self.read()?;
        match contents.get_mut(name) {
            Some(entry) if !entry.deleted => {
                entry.versions.clear();
                entry.deleted = true;
                self.write(&contents)
            }
            _ => Ok(()),
        }
    }

    async fn blocking<T, F>(&self, f: F) -> Result<T, SecretError>
    where
        T: Send + 'static,
        F: FnOnce(&FileSecretStore) -> Result<T, SecretError> + Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || f(&this))
            .await
            .map_err(|_| SecretError::Other("secret file worker failed".into()))?
    }
}

#[async_trait]
impl SecretStore for FileSecretStore {
    async fn put(&self, name: &str, value: &SecretString) -> Result<String, SecretError> {
        let name = name.to_string();
        let value = value.expose_secret().to_string();
        self.blocking(move |s| s.put_blocking(&name, value)).await
    }

    async fn get(&self, name: &str, version_id: Option<&str>) -> Result<SecretValue, SecretError> {
        let name = name.to_string();
        let version_id = version_id.map(str::to_string);
        self.blocking(move |s| s.get_blocking(&name, version_id.as_deref()))
            .await
    }

    async fn delete(&self, name: &str) -> Result<(), SecretError> {
        let name = name.to_string();
        self.blocking(move |s| s.delete_blocking(&name)).await
    }
}
