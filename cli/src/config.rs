//! The configuration files: `/etc/strata/config.toml` for the machine, and the user's
//! `$XDG_CONFIG_HOME/strata/config.toml` (`~/.config/strata/config.toml`) over it, key by
//! key. Precedence, highest first: command-line flags, environment variables, the user's
//! file, the system file, `registries.json` (mirrors and insecure registries only), the
//! built-in defaults. Unknown keys and values of the wrong type are errors that name the
//! file, the line and the key. [`KEYS`] documents every key (the `strata-config.toml(5)`
//! manual page is written from it).

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The machine's configuration file.
pub const SYSTEM_FILE: &str = "/etc/strata/config.toml";

/// One configuration file's contents: every key is optional.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ConfigFile {
    /// Mirrors of Docker Hub (`https://host[:port]`), tried in order before it.
    pub registry_mirrors: Option<Vec<String>>,
    /// Registries (`host[:port]`) reached over plain HTTP, or over TLS without checks.
    pub insecure_registries: Option<Vec<String>>,
    /// More `certs.d`-style directories: `DIR/HOST[:PORT]/*.crt` are CAs for that registry.
    pub cert_dirs: Option<Vec<PathBuf>>,
    /// The store root.
    pub root: Option<PathBuf>,
    /// The privileged helper's socket.
    pub helper_socket: Option<PathBuf>,
    /// The default of `run --pull`.
    pub pull: Option<PullPolicy>,
    /// How pull and push show their progress.
    pub progress: Option<Progress>,
    /// The most bytes one layer may hold once decompressed.
    pub max_layer_size: Option<u64>,
    /// The most a layer may grow when decompressed (decompressed / compressed bytes).
    pub max_expansion_ratio: Option<u64>,
    /// The most layers an image may have.
    pub max_layers: Option<u64>,
    /// Seconds a download may go without receiving a byte.
    pub download_idle_timeout: Option<u64>,
    /// Bytes a download must receive in every `download-low-speed-time` seconds.
    pub download_low_speed_limit: Option<u64>,
    /// The interval of `download-low-speed-limit`, in seconds.
    pub download_low_speed_time: Option<u64>,
    /// What joins a `--network bridge` container to the host.
    pub network_backend: Option<NetworkBackend>,
    /// The private IPv4 subnet of root's bridge (`strata0`), `ADDRESS/PREFIX`.
    pub bridge_subnet: Option<String>,
}

/// When `run` pulls its image (`--pull`, and `pull` in the configuration).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PullPolicy {
    /// Only when no local image has the name (docker's default).
    Missing,
    /// Every time.
    Always,
    /// Never: the image must be here.
    Never,
}

impl PullPolicy {
    /// The policy as `--pull` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            PullPolicy::Missing => "missing",
            PullPolicy::Always => "always",
            PullPolicy::Never => "never",
        }
    }
}

/// What joins a container on docker's `bridge` network to the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkBackend {
    /// A bridge (`strata0`), a veth pair per container and nftables rules (root only).
    Bridge,
    /// pasta, from the passt package: ordinary sockets of the host, no privilege.
    Pasta,
    /// slirp4netns with its API socket for published ports, no privilege.
    Slirp4netns,
}

impl NetworkBackend {
    /// The name `network-backend` and `--network` spell.
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkBackend::Bridge => "bridge",
            NetworkBackend::Pasta => "pasta",
            NetworkBackend::Slirp4netns => "slirp4netns",
        }
    }
}

/// How pull and push show their progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Progress {
    /// Live bars on a terminal that can redraw them, docker's status lines elsewhere.
    Auto,
    /// Docker's status lines, even on a terminal.
    Plain,
    /// Only the result, as with `-q`.
    Quiet,
}

/// A documented configuration key.
pub struct Key {
    /// The key as written in the file.
    pub name: &'static str,
    /// Its TOML type and an example.
    pub example: &'static str,
    /// What it does.
    pub doc: &'static str,
}

/// Every key [`ConfigFile`] accepts, documented (a unit test checks the list is complete).
pub const KEYS: &[Key] = &[
    Key {
        name: "registry-mirrors",
        example: "registry-mirrors = [\"https://mirror.example:5000\"]",
        doc: "Mirrors of Docker Hub, tried in order before it; a mirror that does not have an image is passed over. Over the registry-mirrors of registries.json.",
    },
    Key {
        name: "insecure-registries",
        example: "insecure-registries = [\"registry.lan:5000\"]",
        doc: "Registries reached over plain HTTP when they do not speak TLS, and over TLS without certificate checks when they do. STRATA_INSECURE_REGISTRIES and --tls-verify=false add to it. Over the insecure-registries of registries.json.",
    },
    Key {
        name: "cert-dirs",
        example: "cert-dirs = [\"/srv/pki/certs.d\"]",
        doc: "Directories laid out like docker's certs.d: every DIR/HOST[:PORT]/*.crt is a CA certificate for that registry, in addition to /etc/strata/certs.d, /etc/docker/certs.d and ~/.config/strata/certs.d. Absolute paths.",
    },
    Key {
        name: "root",
        example: "root = \"/srv/strata\"",
        doc: "The store root (absolute). In the system file it applies to root only: ordinary users keep their own stores unless their own file names one. --root and STRATA_ROOT come first.",
    },
    Key {
        name: "helper-socket",
        example: "helper-socket = \"/run/strata/helper.sock\"",
        doc: "The socket of the privileged overlay mount helper (absolute), which ordinary users' containers need. STRATA_HELPER_SOCKET comes first.",
    },
    Key {
        name: "pull",
        example: "pull = \"missing\"",
        doc: "The default of run --pull: \"missing\" (pull only when no local image has the name), \"always\" or \"never\".",
    },
    Key {
        name: "progress",
        example: "progress = \"auto\"",
        doc: "How pull and push show their progress: \"auto\" (live bars on a terminal that can redraw them, docker's status lines elsewhere), \"plain\" (status lines always) or \"quiet\" (as -q). STRATA_NO_PROGRESS turns the bars off.",
    },
    Key {
        name: "max-layer-size",
        example: "max-layer-size = 21474836480",
        doc: "The most bytes one layer may hold once decompressed, for pull, load and import (default 64 GiB); a larger layer is refused as it is read. STRATA_MAX_LAYER_SIZE comes first.",
    },
    Key {
        name: "max-expansion-ratio",
        example: "max-expansion-ratio = 200",
        doc: "The most a compressed layer may grow when decompressed, as decompressed bytes per compressed byte, counted once a layer has passed 256 MiB decompressed (default 500; 0 turns the check off). A gzip bomb stops at this ratio. STRATA_MAX_EXPANSION_RATIO comes first.",
    },
    Key {
        name: "max-layers",
        example: "max-layers = 500",
        doc: "The most layers an image may have, for pull, load and import: at most and by default 500, the most lower layers an overlay mount takes, so that every image in the store can run. STRATA_MAX_LAYERS comes first.",
    },
    Key {
        name: "download-idle-timeout",
        example: "download-idle-timeout = 60",
        doc: "Seconds a registry may keep a download or answer waiting without sending a byte before strata gives up on that connection (default 60). STRATA_DOWNLOAD_IDLE_TIMEOUT comes first.",
    },
    Key {
        name: "download-low-speed-limit",
        example: "download-low-speed-limit = 1024",
        doc: "Bytes a download must receive in every download-low-speed-time seconds; a slower one is broken off and resumed, and the pull fails after its retries (default 1024; 0 turns the check off). STRATA_DOWNLOAD_LOW_SPEED_LIMIT comes first.",
    },
    Key {
        name: "download-low-speed-time",
        example: "download-low-speed-time = 60",
        doc: "The interval, in seconds, of download-low-speed-limit (default 60). STRATA_DOWNLOAD_LOW_SPEED_TIME comes first.",
    },
    Key {
        name: "network-backend",
        example: "network-backend = \"bridge\"",
        doc: "What joins a container on the default network (--network bridge) to the host: \"bridge\" (root's default: the strata0 bridge, a veth pair per container, nftables masquerading and port forwarding; root only), \"pasta\" (ordinary users' default; the passt package) or \"slirp4netns\". --network pasta and --network slirp4netns choose one for a single container.",
    },
    Key {
        name: "bridge-subnet",
        example: "bridge-subnet = \"10.87.0.0/16\"",
        doc: "The private IPv4 subnet of root's bridge network (default 10.87.0.0/16); the bridge strata0 gets its first address and containers the next free ones. Refused when a route of the host overlaps it.",
    },
];

/// A configuration file that cannot be read or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but cannot be read.
    #[error("cannot read {}: {message}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A key is unknown, has a value of the wrong type, or the file is not TOML.
    #[error("invalid {} line {line}: {}{message}", path.display(), key.as_deref().map(|k| format!("key {k}: ")).unwrap_or_default())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The line (from 1).
        line: usize,
        /// The key, when the error is about one.
        key: Option<String>,
        /// What is wrong.
        message: String,
    },
}

/// The configuration in effect: the system file and the user's, and which were read.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Settings {
    system: ConfigFile,
    user: ConfigFile,
    /// The files that were read, system first.
    pub files: Vec<PathBuf>,
}

impl Settings {
    /// Reads the system file and the user's (missing files count as empty).
    pub fn read() -> Result<Settings, ConfigError> {
        let mut s = Settings::default();
        let mut candidates = vec![(PathBuf::from(SYSTEM_FILE), true)];
        candidates.extend(user_file().map(|f| (f, false)));
        for (path, system) in candidates {
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(ConfigError::Read {
                        path,
                        message: e.to_string(),
                    })
                }
            };
            let parsed = parse(&path, &text)?;
            if system {
                s.system = parsed;
            } else {
                s.user = parsed;
            }
            s.files.push(path);
        }
        Ok(s)
    }

    /// Settings from two parsed files (the system's, then the user's).
    pub fn from_files(system: ConfigFile, user: ConfigFile) -> Settings {
        Settings {
            system,
            user,
            files: Vec::new(),
        }
    }

    fn pick<T: ?Sized>(&self, key: impl Fn(&ConfigFile) -> Option<&T>) -> Option<&T> {
        key(&self.user).or_else(|| key(&self.system))
    }

    /// `registry-mirrors`, when a file sets it.
    pub fn registry_mirrors(&self) -> Option<&[String]> {
        self.pick(|c| c.registry_mirrors.as_deref())
    }

    /// `insecure-registries`, when a file sets it.
    pub fn insecure_registries(&self) -> Option<&[String]> {
        self.pick(|c| c.insecure_registries.as_deref())
    }

    /// `cert-dirs` (empty when no file sets it).
    pub fn cert_dirs(&self) -> &[PathBuf] {
        self.pick(|c| c.cert_dirs.as_deref()).unwrap_or_default()
    }

    /// `root` for this user: the user's file, then (for root only) the system file.
    pub fn store_root(&self, is_root: bool) -> Option<&Path> {
        self.user
            .root
            .as_deref()
            .or_else(|| self.system.root.as_deref().filter(|_| is_root))
    }

    /// `helper-socket`, when a file sets it.
    pub fn helper_socket(&self) -> Option<&Path> {
        self.pick(|c| c.helper_socket.as_deref())
    }

    /// `pull`, or `missing`.
    pub fn pull(&self) -> PullPolicy {
        self.pick(|c| c.pull.as_ref())
            .copied()
            .unwrap_or(PullPolicy::Missing)
    }

    /// `network-backend`, when a file sets it.
    pub fn network_backend(&self) -> Option<NetworkBackend> {
        self.pick(|c| c.network_backend.as_ref()).copied()
    }

    /// `bridge-subnet`, when a file sets it.
    pub fn bridge_subnet(&self) -> Option<&str> {
        self.pick(|c| c.bridge_subnet.as_deref())
    }

    /// `progress`, or `auto`.
    pub fn progress(&self) -> Progress {
        self.pick(|c| c.progress.as_ref())
            .copied()
            .unwrap_or(Progress::Auto)
    }
}

impl Settings {
    /// A number key: the environment variable `var` when set to a number, else the
    /// files, else `default`.
    fn number(&self, var: &str, key: impl Fn(&ConfigFile) -> Option<&u64>, default: u64) -> u64 {
        std::env::var(var)
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .or_else(|| self.pick(key).copied())
            .unwrap_or(default)
    }

    /// The limits on what a layer and an image may be.
    pub fn limits(&self) -> Limits {
        Limits {
            max_layer_size: self.number(
                "STRATA_MAX_LAYER_SIZE",
                |c| c.max_layer_size.as_ref(),
                64 << 30,
            ),
            max_expansion_ratio: self.number(
                "STRATA_MAX_EXPANSION_RATIO",
                |c| c.max_expansion_ratio.as_ref(),
                500,
            ),
            max_layers: self
                .number("STRATA_MAX_LAYERS", |c| c.max_layers.as_ref(), MAX_LAYERS)
                .clamp(1, MAX_LAYERS),
        }
    }

    /// How long a download may stall or crawl.
    pub fn deadlines(&self) -> Deadlines {
        Deadlines {
            idle: self.number(
                "STRATA_DOWNLOAD_IDLE_TIMEOUT",
                |c| c.download_idle_timeout.as_ref(),
                60,
            ),
            low_speed_limit: self.number(
                "STRATA_DOWNLOAD_LOW_SPEED_LIMIT",
                |c| c.download_low_speed_limit.as_ref(),
                1024,
            ),
            low_speed_time: self.number(
                "STRATA_DOWNLOAD_LOW_SPEED_TIME",
                |c| c.download_low_speed_time.as_ref(),
                60,
            ),
        }
    }
}

/// The most lower layers an overlay mount takes, and so the most layers an image that
/// can run may have.
pub const MAX_LAYERS: u64 = 500;

/// What a layer and an image may be at most (`max-layer-size`, `max-expansion-ratio`,
/// `max-layers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of one decompressed layer.
    pub max_layer_size: u64,
    /// Decompressed bytes per compressed byte (0: no limit).
    pub max_expansion_ratio: u64,
    /// Layers of one image (1 to [`MAX_LAYERS`]).
    pub max_layers: u64,
}

/// How long a download may stall or crawl (`download-idle-timeout`,
/// `download-low-speed-limit`, `download-low-speed-time`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// Seconds without a byte.
    pub idle: u64,
    /// Bytes needed in every `low_speed_time` seconds (0: no limit).
    pub low_speed_limit: u64,
    /// Seconds.
    pub low_speed_time: u64,
}

/// The user's file: `$XDG_CONFIG_HOME/strata/config.toml`, else `~/.config/strata/config.toml`.
pub fn user_file() -> Option<PathBuf> {
    if let Some(c) = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(c).join("strata/config.toml"));
    }
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(|h| PathBuf::from(h).join(".config/strata/config.toml"))
}

/// Parses one file's text; `path` is only for the error.
pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, ConfigError> {
    let file: ConfigFile = toml::from_str(text).map_err(|e| {
        let start = e.span().map_or(0, |s| s.start);
        let (line, key) = locate(text, start);
        ConfigError::Invalid {
            path: path.to_path_buf(),
            line,
            key,
            message: e.message().trim_end().to_string(),
        }
    })?;
    let paths = [
        ("root", file.root.iter().collect::<Vec<_>>()),
        ("helper-socket", file.helper_socket.iter().collect()),
        ("cert-dirs", file.cert_dirs.iter().flatten().collect()),
    ];
    for (key, values) in paths {
        if let Some(p) = values.into_iter().find(|p| !p.is_absolute()) {
            let offset = key_offset(text, key).unwrap_or(0);
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line: locate(text, offset).0,
                key: Some(key.to_string()),
                message: format!("{} is not an absolute path", p.display()),
            });
        }
    }
    Ok(file)
}

/// The line (from 1) of byte `offset` in `text`, and the key of the nearest
/// `key = value` line at or above it.
fn locate(text: &str, offset: usize) -> (usize, Option<String>) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let key = text
        .lines()
        .take(line)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .find_map(|l| {
            let (k, _) = l.split_once('=')?;
            let k = k.trim().trim_matches(|c| c == '"' || c == '\'');
            (!k.is_empty() && !k.starts_with('#')).then(|| k.to_string())
        });
    (line, key)
}

/// Where `key = …` starts in `text`.
fn key_offset(text: &str, key: &str) -> Option<usize> {
    let mut offset = 0;
    for l in text.split_inclusive('\n') {
        if l.split_once('=')
            .is_some_and(|(k, _)| k.trim().trim_matches('"') == key)
        {
            return Some(offset);
        }
        offset += l.len();
    }
    None
}

static SETTINGS: OnceLock<Result<Settings, ConfigError>> = OnceLock::new();

/// The configuration, read once per process.
pub fn load() -> Result<&'static Settings, ConfigError> {
    SETTINGS
        .get_or_init(Settings::read)
        .as_ref()
        .map_err(Clone::clone)
}

/// The configuration for code past the start of a command, which [`load`] has already
/// checked: empty settings if it failed.
pub fn current() -> &'static Settings {
    static EMPTY: OnceLock<Settings> = OnceLock::new();
    load().unwrap_or_else(|_| EMPTY.get_or_init(Settings::default))
}

/// The helper's socket: `STRATA_HELPER_SOCKET`, then `helper-socket`, then
/// `/run/strata/helper.sock`.
pub fn helper_socket() -> PathBuf {
    match std::env::var_os(strata_helper::SOCKET_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => current()
            .helper_socket()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(strata_helper::DEFAULT_SOCKET)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn pull_policies_are_dockers() {
        for (name, policy) in [
            ("missing", PullPolicy::Missing),
            ("always", PullPolicy::Always),
            ("never", PullPolicy::Never),
        ] {
            assert_eq!(PullPolicy::from_str(name, false), Ok(policy));
            assert_eq!(policy.as_str(), name);
        }
        assert!(PullPolicy::from_str("sometimes", false).is_err());
    }

    fn p(text: &str) -> Result<ConfigFile, ConfigError> {
        parse(Path::new("/etc/strata/config.toml"), text)
    }

    #[test]
    fn every_key_parses_and_is_documented() {
        let text = KEYS
            .iter()
            .map(|k| k.example)
            .collect::<Vec<_>>()
            .join("\n");
        let c = p(&text).unwrap();
        assert_eq!(c.pull, Some(PullPolicy::Missing));
        assert_eq!(c.progress, Some(Progress::Auto));
        assert_eq!(c.root.as_deref(), Some(Path::new("/srv/strata")));
        assert_eq!(c.cert_dirs.unwrap().len(), 1);
        assert_eq!(c.registry_mirrors.unwrap().len(), 1);
        assert_eq!(c.insecure_registries.unwrap().len(), 1);
        assert!(c.helper_socket.is_some());
        assert_eq!(c.network_backend, Some(NetworkBackend::Bridge));
        assert_eq!(c.bridge_subnet.as_deref(), Some("10.87.0.0/16"));
        // Every field of ConfigFile is in KEYS: an unknown-field error lists them all.
        let Err(ConfigError::Invalid { message, .. }) = p("nope = 1") else {
            panic!("an unknown key was accepted")
        };
        for k in KEYS {
            assert!(message.contains(&format!("`{}`", k.name)), "{message}");
        }
        assert_eq!(
            message.matches('`').count(),
            2 * (KEYS.len() + 1),
            "{message}"
        );
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let e = p("pull = \"always\"\n\nregistry-mirror = [\"https://m\"]\n").unwrap_err();
        let ConfigError::Invalid { line, key, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!((*line, key.as_deref()), (3, Some("registry-mirror")));
        let text = e.to_string();
        assert!(
            text.starts_with("invalid /etc/strata/config.toml line 3: key registry-mirror: unknown field `registry-mirror`"),
            "{text}"
        );
    }

    #[test]
    fn wrong_type_names_the_key() {
        for (text, line, key) in [
            ("# c\npull = \"sometimes\"\n", 2, "pull"),
            ("progress = 1\n", 1, "progress"),
            (
                "insecure-registries = \"a:5000\"\n",
                1,
                "insecure-registries",
            ),
            (
                "root = \"/x\"\ncert-dirs = [\n  \"/a\",\n  7,\n]\n",
                4,
                "cert-dirs",
            ),
        ] {
            match p(text) {
                Err(ConfigError::Invalid {
                    line: l, key: k, ..
                }) => {
                    assert_eq!((l, k.as_deref()), (line, Some(key)), "{text}")
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn relative_paths_are_refused() {
        let e = p("pull = \"never\"\nhelper-socket = \"helper.sock\"\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid /etc/strata/config.toml line 2: key helper-socket: helper.sock is not an absolute path"
        );
    }

    #[test]
    fn syntax_error_has_a_line() {
        let Err(ConfigError::Invalid { line, .. }) = p("pull = \"never\"\nroot = \n") else {
            panic!("bad TOML was accepted")
        };
        assert_eq!(line, 2);
    }

    #[test]
    fn user_over_system_key_by_key() {
        let system =
            p("pull = \"never\"\nroot = \"/srv/s\"\nregistry-mirrors = [\"https://a\"]\n").unwrap();
        let user = p("pull = \"always\"\nprogress = \"plain\"\n").unwrap();
        let s = Settings::from_files(system, user);
        assert_eq!(s.pull(), PullPolicy::Always);
        assert_eq!(s.progress(), Progress::Plain);
        assert_eq!(s.registry_mirrors(), Some(&["https://a".to_string()][..]));
        assert_eq!(s.store_root(true), Some(Path::new("/srv/s")));
        assert_eq!(s.store_root(false), None, "the system root is root's only");
        assert_eq!(s.insecure_registries(), None);
        let none = Settings::default();
        assert_eq!(
            (none.pull(), none.progress()),
            (PullPolicy::Missing, Progress::Auto)
        );
    }
}
