//! kmatrix-elf
