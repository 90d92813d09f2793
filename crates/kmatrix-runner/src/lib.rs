//! kmatrix-runner
