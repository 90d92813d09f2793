//! kmatrix-cargo
