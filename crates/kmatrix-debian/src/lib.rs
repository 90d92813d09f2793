//! kmatrix-debian
