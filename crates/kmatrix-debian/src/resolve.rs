//! Choosing a kernel from parsed suite indexes (pure, no I/O).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use crate::kernel::{self, DebArch, KernelQuery, Part};
use crate::packages::PackageEntry;
use crate::{DebianError, version};

/// The kernel-related entries of one suite's `Packages` index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteIndex {
    /// Suite name, e.g. `bookworm-security`.
    pub suite: String,
    /// Archive base URI that the entries' `Filename`s are relative to.
    pub base_url: String,
    /// Package entries (may include unrelated packages; they are ignored).
    pub entries: Vec<PackageEntry>,
}

/// A kernel chosen for a query, with everything needed to download it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedKernel {
    /// The package holding the kernel image: `linux-image-*[-unsigned]`
    /// (classic layout, also holds the modules) or `linux-binary[-unsigned]-*`
    /// (split layout).
    pub image: PackageEntry,
    /// Split layout only: `linux-modules-*`, holding `/usr/lib/modules/<release>/kernel`.
    pub modules: Option<PackageEntry>,
    /// Split layout only: `linux-base-*`, holding config and `System.map`.
    pub base: Option<PackageEntry>,
    /// `linux-image-*-dbg` of the same ABI and version, if listed in the same suite.
    pub debug: Option<PackageEntry>,
    /// Suite the packages come from.
    pub suite: String,
    /// Archive base URI the packages' `Filename`s are relative to.
    pub base_url: String,
    /// Architecture.
    pub arch: DebArch,
    /// Debian kernel ABI, e.g. `6.1.0-50` or `6.12.117+deb13`.
    pub abi: String,
    /// Kernel release (`uname -r`), e.g. `6.1.0-50-cloud-amd64`.
    pub release: String,
}

impl ResolvedKernel {
    /// Debian version of the kernel packages, e.g. `6.1.176-1`.
    pub fn version(&self) -> &str {
        &self.image.version
    }

    /// The packages to download and unpack for a bootable kernel with its
    /// modules (excluding debug symbols).
    pub fn packages(&self) -> Vec<&PackageEntry> {
        std::iter::once(&self.image)
            .chain(self.modules.as_ref())
            .chain(self.base.as_ref())
            .collect()
    }
}

/// All parts of one (ABI, version) found in one suite.
#[derive(Default)]
struct Parts<'a> {
    image: [Option<&'a PackageEntry>; 2],
    binary: [Option<&'a PackageEntry>; 2],
    modules: Option<&'a PackageEntry>,
    base: Option<&'a PackageEntry>,
    debug: Option<&'a PackageEntry>,
}

struct Candidate<'a> {
    suite_rank: usize,
    abi: &'a str,
    parts: Parts<'a>,
    image: &'a PackageEntry,
    unsigned: bool,
}

impl Candidate<'_> {
    /// Newer version first, then unsigned, then with debug symbols, then
    /// earlier suite in the search list.
    fn better_than(&self, other: &Candidate<'_>) -> bool {
        version::compare(&self.image.version, &other.image.version)
            .then(self.unsigned.cmp(&other.unsigned))
            .then(self.parts.debug.is_some().cmp(&other.parts.debug.is_some()))
            .then(other.suite_rank.cmp(&self.suite_rank))
            == Ordering::Greater
    }
}

/// The preferred of a `[signed, unsigned]` pair, with an "is unsigned" flag.
fn pick(pair: [Option<&PackageEntry>; 2]) -> Option<(&PackageEntry, bool)> {
    match pair {
        [_, Some(unsigned)] => Some((unsigned, true)),
        [Some(signed), None] => Some((signed, false)),
        [None, None] => None,
    }
}

fn candidates(arch: DebArch, suites: &[SuiteIndex]) -> Vec<Candidate<'_>> {
    let mut out = Vec::new();
    for (suite_rank, suite) in suites.iter().enumerate() {
        let mut groups: BTreeMap<(&str, &str), Parts<'_>> = BTreeMap::new();
        for entry in &suite.entries {
            if entry.architecture != arch.as_str() {
                continue;
            }
            let Some((part, abi)) = kernel::classify(&entry.package, arch) else {
                continue;
            };
            let g = groups.entry((abi, &entry.version)).or_default();
            let slot = match part {
                Part::Image { unsigned } => &mut g.image[usize::from(unsigned)],
                Part::Binary { unsigned } => &mut g.binary[usize::from(unsigned)],
                Part::Modules => &mut g.modules,
                Part::Base => &mut g.base,
                Part::Debug => &mut g.debug,
            };
            slot.get_or_insert(entry);
        }
        for ((abi, _), parts) in groups {
            // Split layout when a linux-binary package exists: the
            // linux-image package is then only a dependency shim.
            let Some((image, unsigned)) = pick(parts.binary).or_else(|| pick(parts.image)) else {
                continue;
            };
            out.push(Candidate {
                suite_rank,
                abi,
                image,
                unsigned,
                parts,
            });
        }
    }
    out
}

/// Picks the kernel answering `query` for `arch`: the newest Debian version
/// across `suites`; at equal version an unsigned image, then one with debug
/// symbols, then the earlier suite wins.
pub fn select(
    query: &KernelQuery,
    arch: DebArch,
    suites: &[SuiteIndex],
) -> Result<ResolvedKernel, DebianError> {
    let all = candidates(arch, suites);
    let mut best: Option<&Candidate<'_>> = None;
    for c in all.iter().filter(|c| query.matches_abi(c.abi)) {
        if best.is_none_or(|b| c.better_than(b)) {
            best = Some(c);
        }
    }
    let Some(best) = best else {
        return Err(unknown(query, arch, suites, &all));
    };
    let split = best.parts.binary.iter().any(Option::is_some);
    let suite = &suites[best.suite_rank];
    Ok(ResolvedKernel {
        image: best.image.clone(),
        modules: split.then(|| best.parts.modules.cloned()).flatten(),
        base: split.then(|| best.parts.base.cloned()).flatten(),
        debug: best.parts.debug.cloned(),
        suite: suite.suite.clone(),
        base_url: suite.base_url.clone(),
        arch,
        abi: best.abi.to_string(),
        release: format!("{}-cloud-{}", best.abi, arch),
    })
}

fn unknown(
    query: &KernelQuery,
    arch: DebArch,
    suites: &[SuiteIndex],
    all: &[Candidate<'_>],
) -> DebianError {
    let lines: BTreeSet<(u32, u32)> = all.iter().filter_map(|c| kernel::abi_line(c.abi)).collect();
    let mut abis: Vec<&str> = match query {
        KernelQuery::Abi(abi) => {
            let line = kernel::abi_line(abi);
            all.iter()
                .filter(|c| line.is_some() && kernel::abi_line(c.abi) == line)
                .map(|c| c.abi)
                .collect()
        }
        KernelQuery::Line { .. } => Vec::new(),
    };
    abis.sort_by(|a, b| version::compare(a, b));
    abis.dedup();
    DebianError::UnknownKernel {
        query: query.to_string(),
        arch,
        searched: suites.iter().map(|s| s.suite.clone()).collect(),
        available_lines: lines.iter().map(|(a, b)| format!("{a}.{b}")).collect(),
        available_abis: abis.into_iter().map(str::to_string).collect(),
    }
}

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;
