//! tandem publish service (being written).
