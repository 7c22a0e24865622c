//! tandem notify service (being written).
