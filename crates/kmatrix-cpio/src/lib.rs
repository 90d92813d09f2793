//! kmatrix-cpio
