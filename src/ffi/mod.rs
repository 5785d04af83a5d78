//! The C ABI (see include/bitask.h).
