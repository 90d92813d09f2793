//! Which files of a kernel package are kept, and where they go.
//!
//! Layouts seen in Debian:
//! * bookworm (6.1): `boot/vmlinuz-<r>`, `boot/config-<r>`, `lib/modules/<r>/…` with `.ko`;
//! * trixie (6.12): the same `boot/` files, modules in `usr/lib/modules/<r>/…` as `.ko.xz`;
//! * forky/sid (7.x), split into packages: `usr/lib/modules/<r>/vmlinuz`
//!   (`vmlinuz.unsigned` in `linux-binary-unsigned-*`), `…/config`,
//!   a placeholder `…/System.map`, arm64 device trees in `…/dtb/`, and
//!   the modules as `.ko.xz`.

/// Where an entry of the data member goes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Route<'a> {
    /// The kernel image of `release`.
    Vmlinuz {
        /// Kernel release from the path.
        release: &'a str,
    },
    /// The kernel config of `release`.
    Config {
        /// Kernel release from the path.
        release: &'a str,
    },
    /// A file of the modules tree (`rel` relative to `lib/modules/<release>/`).
    Module {
        /// Kernel release from the path.
        release: &'a str,
        /// Path inside the modules directory.
        rel: &'a str,
    },
    /// Not needed.
    Skip,
}

/// Decides where the file at `path` (normalized, no leading `./`) goes.
pub(crate) fn route(path: &str) -> Route<'_> {
    if let Some(name) = path.strip_prefix("boot/").filter(|n| !n.contains('/')) {
        if let Some(release) = name.strip_prefix("vmlinuz-").filter(|r| !r.is_empty()) {
            return Route::Vmlinuz { release };
        }
        if let Some(release) = name.strip_prefix("config-").filter(|r| !r.is_empty()) {
            return Route::Config { release };
        }
        return Route::Skip;
    }
    let Some(under) = path
        .strip_prefix("usr/")
        .unwrap_or(path)
        .strip_prefix("lib/modules/")
    else {
        return Route::Skip;
    };
    let Some((release, rel)) = under
        .split_once('/')
        .filter(|(r, p)| !r.is_empty() && !p.is_empty())
    else {
        return Route::Skip;
    };
    match rel {
        "vmlinuz" | "vmlinuz.unsigned" => Route::Vmlinuz { release },
        "config" => Route::Config { release },
        // A placeholder (the real map is in the -dbg package); device trees
        // are for firmware, QEMU builds its own; build/source are dev links.
        "System.map" | "build" | "source" => Route::Skip,
        _ if rel.starts_with("dtb/") => Route::Skip,
        _ => Route::Module { release, rel },
    }
}

/// True for `System.map` files: `boot/System.map-<r>`,
/// `usr/lib/debug/boot/System.map-<r>`, `usr/lib/debug/lib/modules/<r>/System.map`.
pub(crate) fn is_system_map(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name == "System.map" || name.starts_with("System.map-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_bookworm_layout() {
        let r = "6.1.0-50-cloud-amd64";
        assert_eq!(
            route("boot/vmlinuz-6.1.0-50-cloud-amd64"),
            Route::Vmlinuz { release: r }
        );
        assert_eq!(
            route("boot/config-6.1.0-50-cloud-amd64"),
            Route::Config { release: r }
        );
        assert_eq!(route("boot/System.map-6.1.0-50-cloud-amd64"), Route::Skip);
        assert_eq!(
            route("lib/modules/6.1.0-50-cloud-amd64/kernel/net/key/af_key.ko"),
            Route::Module {
                release: r,
                rel: "kernel/net/key/af_key.ko"
            }
        );
        assert_eq!(
            route("lib/modules/6.1.0-50-cloud-amd64/modules.order"),
            Route::Module {
                release: r,
                rel: "modules.order"
            }
        );
        assert_eq!(route("lib/modules/6.1.0-50-cloud-amd64"), Route::Skip);
        assert_eq!(route("usr/share/doc/linux-image/changelog.gz"), Route::Skip);
        assert_eq!(route("boot/vmlinuz-"), Route::Skip);
    }

    #[test]
    fn routes_split_layout() {
        let r = "7.2.13+deb14-cloud-arm64";
        let base = "usr/lib/modules/7.2.13+deb14-cloud-arm64";
        assert_eq!(
            route(&format!("{base}/vmlinuz")),
            Route::Vmlinuz { release: r }
        );
        assert_eq!(
            route(&format!("{base}/vmlinuz.unsigned")),
            Route::Vmlinuz { release: r }
        );
        assert_eq!(
            route(&format!("{base}/config")),
            Route::Config { release: r }
        );
        assert_eq!(route(&format!("{base}/System.map")), Route::Skip);
        assert_eq!(route(&format!("{base}/dtb/arm/juno.dtb")), Route::Skip);
        assert_eq!(
            route(&format!("{base}/kernel/fs/fuse/fuse.ko.xz")),
            Route::Module {
                release: r,
                rel: "kernel/fs/fuse/fuse.ko.xz"
            }
        );
        assert_eq!(route("usr/lib/linux-image-6.12/amd/x.dtb"), Route::Skip);
    }

    #[test]
    fn recognises_system_maps() {
        assert!(is_system_map("boot/System.map-6.1.0-50-cloud-amd64"));
        assert!(is_system_map(
            "usr/lib/debug/boot/System.map-6.1.0-50-cloud-amd64"
        ));
        assert!(is_system_map("usr/lib/debug/lib/modules/7.2.13/System.map"));
        assert!(!is_system_map(
            "usr/lib/debug/lib/modules/7.2.13/kernel/x.ko"
        ));
        assert!(!is_system_map("usr/share/doc/System.mapping"));
    }
}
