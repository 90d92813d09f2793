//! kmatrix-kernel
