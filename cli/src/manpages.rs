//! The manual pages, written from the command-line definitions (clap_mangen) and the
//! configuration keys ([`crate::config::KEYS`]): `strata(1)`, one `strata-SUBCOMMAND(1)`
//! per subcommand, and `strata-config.toml(5)`. `strata-docgen man DIR` writes them for
//! the package.

use clap_mangen::roff::{bold, italic, roman, Roff};
use clap_mangen::Man;
use std::io;
use std::path::{Path, PathBuf};

/// What `strata(1)` says after the options: files, environment, precedence.
const STRATA_EXTRA: &[(&str, &[&str])] = &[
    (
        "CONFIGURATION",
        &[
            "Settings come from, highest first: command-line flags; environment variables; the user's ~/.config/strata/config.toml ($XDG_CONFIG_HOME/strata/config.toml); the system's /etc/strata/config.toml; registries.json (registry-mirrors and insecure-registries only); the built-in defaults. See strata-config.toml(5). strata info lists the files it read.",
        ],
    ),
    (
        "THE HELPER",
        &[
            "An ordinary user's containers are mounted by strata-helper, a small privileged service reached over /run/strata/helper.sock (socket-activated by strata-helper.socket). Start it with: systemctl enable --now strata-helper.socket. Root mounts in process and needs no helper.",
            "Setuid mode, for machines without systemd (containers, CI runners, other init systems), never the default: the administrator makes the installed helper setuid root with: dpkg-statoverride --update --add root root 4755 /usr/libexec/strata/strata-helper (undo with dpkg-statoverride --remove /usr/libexec/strata/strata-helper and chmod 0755). When nothing answers on the helper socket, strata then starts strata-helper once itself for each mount, over a socket pair: it serves that one request with the same checks and capabilities as the service, for the real uid, and exits. It clears the environment, closes every inherited descriptor, resets signals, resource limits, umask and working directory, and refuses to run serve setuid.",
            "Which helper binary: STRATA_HELPER_BIN, else strata-helper next to strata, else ../libexec/strata/strata-helper from strata's directory, else /usr/libexec/strata/strata-helper; the first that exists, used in setuid mode only when it is owned by root and setuid.",
        ],
    ),
    (
        "ENVIRONMENT",
        &[
            "STRATA_ROOT: the store root (after --root).",
            "STRATA_HELPER_SOCKET: the helper's socket (over helper-socket).",
            "STRATA_HELPER_BIN: the helper binary of the setuid mode (see THE HELPER).",
            "STRATA_INSECURE_REGISTRIES: host:port,... added to insecure-registries.",
            "STRATA_NO_PROGRESS: no progress bars.",
            "XDG_CONFIG_HOME, XDG_DATA_HOME, HOME: where the user's configuration and store are.",
        ],
    ),
    (
        "FILES",
        &[
            "/etc/strata/config.toml, ~/.config/strata/config.toml: configuration (strata-config.toml(5)).",
            "/etc/strata/registries.json, ~/.config/strata/registries.json: docker's registry-mirrors and insecure-registries keys.",
            "/etc/strata/certs.d, /etc/docker/certs.d, ~/.config/strata/certs.d: HOST[:PORT]/*.crt CA certificates.",
            "/var/lib/strata: root's store. ~/.local/share/strata: an ordinary user's store.",
            "/run/strata/helper.sock: the helper's socket.",
        ],
    ),
    ("SEE ALSO", &["strata-config.toml(5), systemctl(1), subuid(5)"]),
];

fn man_error(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

fn add_sections(roff: &mut Roff, sections: &[(&str, &[&str])]) {
    for (title, paragraphs) in sections {
        roff.control("SH", [*title]);
        for p in *paragraphs {
            roff.control("PP", []);
            roff.text([roman(*p)]);
        }
    }
}

/// Writes `strata.1`, every visible subcommand's page and `strata-config.toml.5` into
/// `dir`; returns the files written.
pub fn write_all(cmd: clap::Command, dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let mut written = Vec::new();
    let top = dir.join("strata.1");
    let mut text = Vec::new();
    Man::new(cmd.clone()).render(&mut text)?;
    let mut extra = Roff::default();
    add_sections(&mut extra, STRATA_EXTRA);
    text.extend(extra.render().into_bytes());
    std::fs::write(&top, text)?;
    written.push(top);
    let mut stack: Vec<clap::Command> = cmd.get_subcommands().cloned().collect();
    while let Some(sub) = stack.pop() {
        if sub.is_hide_set() {
            continue;
        }
        stack.extend(sub.get_subcommands().cloned());
        written.push(Man::new(sub).generate_to(dir)?);
    }
    let config = dir.join("strata-config.toml.5");
    std::fs::write(&config, config_page()).map_err(man_error)?;
    written.push(config);
    Ok(written)
}

/// `strata-config.toml(5)`: every key of [`crate::config::KEYS`].
pub fn config_page() -> String {
    let mut r = Roff::default();
    r.control(
        "TH",
        ["strata-config.toml", "5", "", "strata", "File Formats"],
    );
    r.control("SH", ["NAME"]);
    r.text([roman("strata-config.toml - strata's configuration files")]);
    r.control("SH", ["SYNOPSIS"]);
    r.text([
        bold("/etc/strata/config.toml"),
        roman(", "),
        bold("~/.config/strata/config.toml"),
    ]);
    r.control("SH", ["DESCRIPTION"]);
    r.text([roman(
        "TOML files with the keys below, all optional. The user's file ($XDG_CONFIG_HOME/strata/config.toml, else ~/.config/strata/config.toml) is read over the system's, key by key. Precedence, highest first: command-line flags, environment variables, the user's file, the system file, registries.json, the built-in defaults. An unknown key or a value of the wrong type is an error that names the file, the line and the key, and every command refuses to run until it is fixed. strata info lists the files it read.",
    )]);
    r.control("SH", ["KEYS"]);
    for k in crate::config::KEYS {
        r.control("TP", []);
        r.text([bold(k.name)]);
        r.text([roman(k.doc)]);
        r.control("RS", []);
        r.text([roman("Example: "), italic(k.example)]);
        r.control("RE", []);
    }
    r.control("SH", ["EXAMPLE"]);
    r.control("nf", []);
    r.text([roman("# /etc/strata/config.toml\nregistry-mirrors = [\"https://mirror.example:5000\"]\ninsecure-registries = [\"registry.lan:5000\"]\npull = \"missing\"\nprogress = \"auto\"")]);
    r.control("fi", []);
    r.control("SH", ["SEE ALSO"]);
    r.text([roman("strata(1)")]);
    r.render()
}
