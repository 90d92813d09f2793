//! The guest init binaries built into kmatrix (see `build.rs`).

use kmatrix_kernel::Arch;

mod built {
    include!(concat!(env!("OUT_DIR"), "/guest_init.rs"));
}

/// The static guest init for `arch`, or what to do to get one.
pub(crate) fn init_for(arch: Arch) -> Result<&'static [u8], String> {
    let built = match arch {
        Arch::X86_64 => built::GUEST_INIT_X86_64,
        Arch::Aarch64 => built::GUEST_INIT_AARCH64,
    };
    built.ok_or_else(|| {
        let triple = format!("{arch}-unknown-linux-musl");
        format!("install the Rust target (rustup target add {triple}) and rebuild kmatrix")
    })
}
