//! kmatrix-wire
