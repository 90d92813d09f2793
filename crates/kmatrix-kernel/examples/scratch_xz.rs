//! scratch
use kmatrix_kernel::package::*;
use std::time::Instant;
fn main() {
    for compress in [false, true, false, true] {
        let _ = std::fs::remove_dir_all("/tmp/k/out/s");
        let t = Instant::now();
        let k = extract_image_deb(
            "/tmp/k/img.deb".as_ref(),
            "/tmp/k/out/s".as_ref(),
            &ExtractOptions {
                compress_modules: compress,
            },
        )
        .unwrap();
        println!("compress {compress}: {:?} {:?}", t.elapsed(), k.stats);
    }
}
