//! One TLS crypto provider for the whole process.
//!
//! rustls refuses to pick a provider itself when the build allows several (reqwest here is
//! built without one of its own, to avoid a second C-built provider next to the ring that
//! async-nats uses), so every HTTP client must be made after [`install_crypto_provider`].

/// Installs ring as rustls' process-wide provider unless one is installed already.
pub fn install_crypto_provider() {
    // An error means a provider is in place, which is all that is needed.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
