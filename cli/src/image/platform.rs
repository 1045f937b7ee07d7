//! Platforms (`os/arch[/variant]`): parsing `--platform`, the host's, and choosing the
//! manifest for one in an image index, for pull and load alike.
//!
//! Matching follows docker (containerd's platform matcher): architectures and variants
//! are normalised first, so `arm` means `arm/v7`, `arm64/v8` is plain `arm64`,
//! `aarch64` is `arm64` and `x86_64` is `amd64`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A platform (`os/arch[/variant]`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Platform {
    /// CPU architecture, in Go's spelling (`amd64`, `arm64`).
    #[serde(default)]
    pub architecture: String,
    /// Operating system (`linux`).
    #[serde(default)]
    pub os: String,
    /// CPU variant (`v7`), when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// A `--platform` value that is not `os/arch[/variant]`.
#[derive(Debug, thiserror::Error)]
#[error("invalid platform {0:?}: expected os/arch[/variant]")]
pub struct InvalidPlatform(pub String);

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl Platform {
    /// This machine's platform: `linux` and its architecture, no variant.
    pub fn host() -> Platform {
        Platform {
            os: "linux".into(),
            architecture: host_arch().into(),
            variant: None,
        }
    }

    /// Parses `--platform os/arch[/variant]`, defaulting to the host's platform (and
    /// the host's architecture when only the os is given).
    pub fn parse(p: Option<&str>) -> Result<Platform, InvalidPlatform> {
        let Some(p) = p else {
            return Ok(Platform::host());
        };
        let mut parts = p.split('/');
        let os = parts.next().unwrap_or_default().to_ascii_lowercase();
        let architecture = parts
            .next()
            .map(|a| a.to_ascii_lowercase())
            .unwrap_or_else(|| host_arch().into());
        let variant = parts.next().map(str::to_string);
        if os.is_empty() || parts.next().is_some() {
            return Err(InvalidPlatform(p.to_string()));
        }
        Ok(Platform {
            os,
            architecture,
            variant,
        })
    }

    /// The platform as matching compares it: architecture aliases resolved and the
    /// variant given its default (`arm` → `v7`) or dropped where it is the only one
    /// (`arm64/v8`, `amd64/v1`).
    pub fn normalized(&self) -> Platform {
        let arch = self.architecture.to_ascii_lowercase();
        let variant = self.variant.as_deref().map(str::to_ascii_lowercase);
        let (architecture, variant) = match (arch.as_str(), variant.as_deref()) {
            ("x86_64" | "x86-64" | "amd64", None | Some("v1")) => ("amd64", None),
            ("x86_64" | "x86-64", v) => ("amd64", v.map(str::to_string)),
            ("i386" | "386", v) => ("386", v.map(str::to_string)),
            ("aarch64" | "arm64", None | Some("8" | "v8")) => ("arm64", None),
            ("aarch64", v) => ("arm64", v.map(str::to_string)),
            ("armhf", _) => ("arm", Some("v7".to_string())),
            ("armel", _) => ("arm", Some("v6".to_string())),
            ("arm", None) => ("arm", Some("v7".to_string())),
            ("arm", Some(v)) => (
                "arm",
                Some(match v {
                    "5" | "6" | "7" | "8" => format!("v{v}"),
                    v => v.to_string(),
                }),
            ),
            (a, v) => (a, v.map(str::to_string)),
        };
        Platform {
            os: self.os.to_ascii_lowercase(),
            architecture: architecture.to_string(),
            variant,
        }
    }

    /// Whether a manifest for `other` runs here as the exact platform `self` asks for.
    pub fn matches(&self, other: &Platform) -> bool {
        self.normalized() == other.normalized()
    }

    /// Whether `other` has this os and architecture, whatever its variant.
    fn same_arch(&self, other: &Platform) -> bool {
        let (a, b) = (self.normalized(), other.normalized());
        a.os == b.os && a.architecture == b.architecture
    }
}

/// Picks the entry of an image index for `want`: the first whose platform matches it
/// exactly (after normalising); when `want` names no variant, else the first with its
/// os and architecture. Entries without a platform, and attestation entries
/// (`unknown/unknown`), never match.
pub fn select<'a, D>(
    entries: &'a [D],
    platform_of: impl Fn(&D) -> Option<&Platform>,
    want: &Platform,
) -> Option<&'a D> {
    let exact = entries
        .iter()
        .find(|d| platform_of(d).is_some_and(|p| want.matches(p)));
    if exact.is_some() || want.variant.is_some() {
        return exact;
    }
    entries
        .iter()
        .find(|d| platform_of(d).is_some_and(|p| want.same_arch(p)))
}

/// The architecture name of this machine, in Go's spelling as images use it.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(os: &str, arch: &str, variant: Option<&str>) -> Platform {
        Platform {
            os: os.into(),
            architecture: arch.into(),
            variant: variant.map(str::to_string),
        }
    }

    fn pick(list: &[Platform], want: Platform) -> Option<usize> {
        select(list, |p| Some(p), &want)
            .map(|d| list.iter().position(|x| std::ptr::eq(x, d)).unwrap())
    }

    #[test]
    fn selects_by_os_architecture_and_variant() {
        let list = vec![
            p("unknown", "unknown", None),
            p("linux", "arm", Some("v6")),
            p("linux", "arm", Some("v7")),
            p("linux", "amd64", None),
            p("linux", "arm64", Some("v8")),
        ];
        assert_eq!(pick(&list, p("linux", "amd64", None)), Some(3));
        assert_eq!(pick(&list, p("linux", "arm64", None)), Some(4));
        assert_eq!(pick(&list, p("linux", "arm64", Some("v8"))), Some(4));
        assert_eq!(
            pick(&list, p("linux", "arm", None)),
            Some(2),
            "arm is arm/v7"
        );
        assert_eq!(pick(&list, p("linux", "arm", Some("v6"))), Some(1));
        assert_eq!(pick(&list, p("linux", "arm", Some("7"))), Some(2));
        assert_eq!(pick(&list, p("linux", "aarch64", None)), Some(4));
        assert_eq!(pick(&list, p("linux", "x86_64", None)), Some(3));
        assert_eq!(pick(&list, p("linux", "s390x", None)), None);
        assert_eq!(pick(&list, p("windows", "amd64", None)), None);
        assert_eq!(pick(&list, p("linux", "arm64", Some("v9"))), None);
    }

    #[test]
    fn an_unnamed_variant_falls_back_to_any_variant() {
        let list = vec![
            p("linux", "arm64", Some("v9")),
            p("linux", "riscv64", Some("rva23")),
        ];
        assert_eq!(pick(&list, p("linux", "arm64", None)), Some(0));
        assert_eq!(pick(&list, p("linux", "riscv64", None)), Some(1));
        assert_eq!(pick(&list, p("linux", "riscv64", Some("rva20"))), None);
    }

    #[test]
    fn an_arm64_entry_without_variant_matches_v8() {
        let list = vec![p("linux", "arm64", None), p("linux", "arm", None)];
        assert_eq!(pick(&list, p("linux", "arm64", Some("v8"))), Some(0));
        assert_eq!(pick(&list, p("linux", "arm", Some("v7"))), Some(1));
    }

    #[test]
    fn parses_the_platform_flag() {
        assert_eq!(Platform::parse(None).unwrap(), Platform::host());
        assert_eq!(
            Platform::parse(Some("Linux/ARM64/v8")).unwrap(),
            p("linux", "arm64", Some("v8"))
        );
        assert_eq!(
            Platform::parse(Some("linux")).unwrap(),
            p("linux", host_arch(), None)
        );
        for bad in ["", "/amd64", "linux/amd64/v1/x"] {
            assert!(Platform::parse(Some(bad)).is_err(), "{bad}");
        }
    }
}
