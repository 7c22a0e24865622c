//! Throwaway TLS certificates for a test: a CA and a server certificate it signed, made with the
//! `openssl` command, so servers can run the shipped configurations' TLS settings as they are.

use std::{path::Path, process::Command};

/// Writes `ca.crt`, `server.crt` and `server.key` into `dir`: a one-day CA and a server
/// certificate from it for `127.0.0.1`, `localhost` and `nats`, usable by servers and by
/// routes (which present it as clients too).
///
/// # Panics
/// When `openssl` is missing or fails.
pub fn throwaway(dir: &Path) {
    let openssl = |args: &[&str]| {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl runs (it makes the test's certificates)");
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let key = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let days = ["-days", "1"];
    openssl(
        &[
            &["req", "-x509"][..],
            &key,
            &days,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-subj",
                "/CN=tandem test CA",
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"][..],
            &key,
            &[
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=nats",
                "-addext",
                "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:nats",
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
            ][..],
            &[
                "-CAcreateserial",
                "-copy_extensions",
                "copy",
                "-out",
                "server.crt",
            ],
            &days,
        ]
        .concat(),
    );
}
