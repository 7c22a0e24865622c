//! The services of tandem as the bus knows them (docs/design.md, "Subjects, streams,
//! buckets"): each one's name in the service API, which with `tandem-` before it also names its
//! NATS connection and its binary; its NATS user in `deploy/nats/tenants.conf` (the same name);
//! its reply-inbox prefix where others must not read its replies; and its durable consumers.
//! `tandem up`, `tandem ping`, the services themselves and the tests all read them here.

/// One service (one per agency for notify).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Service {
    /// Its name in the service API (`tandem ping <name>`) and its NATS user.
    pub name: &'static str,
    /// Its NATS connection's name: `tandem-<name>`.
    pub connection: &'static str,
    /// Its reply-inbox prefix when its replies must not be readable by other users.
    pub inbox_prefix: Option<&'static str>,
    /// Its durable consumers, by name.
    pub durables: &'static [&'static str],
}

/// Validates situation reports, one durable per intake stream.
pub const INTAKE: Service = Service {
    name: "intake",
    connection: "tandem-intake",
    inbox_prefix: None,
    durables: &[
        "tandem-intake-iom",
        "tandem-intake-unhcr",
        "tandem-intake-partners",
    ],
};

/// Determines who leads each situation.
pub const LEADERSHIP: Service = Service {
    name: "leadership",
    connection: "tandem-leadership",
    inbox_prefix: None,
    durables: &["tandem-leadership"],
};

/// Notifies IOM's focal points.
pub const NOTIFY_IOM: Service = Service {
    name: "notify-iom",
    connection: "tandem-notify-iom",
    inbox_prefix: Some("_INBOX_NOTIFY_IOM"),
    durables: &[
        "tandem-notify-iom",
        "tandem-notify-iom-acks",
        "tandem-notify-iom-reviews",
    ],
};

/// Notifies UNHCR's focal points.
pub const NOTIFY_UNHCR: Service = Service {
    name: "notify-unhcr",
    connection: "tandem-notify-unhcr",
    inbox_prefix: Some("_INBOX_NOTIFY_UNHCR"),
    durables: &[
        "tandem-notify-unhcr",
        "tandem-notify-unhcr-acks",
        "tandem-notify-unhcr-reviews",
    ],
};

/// Publishes the joint dataset; it follows the event stream with ordered consumers, no durable.
pub const PUBLISH: Service = Service {
    name: "publish",
    connection: "tandem-publish",
    inbox_prefix: None,
    durables: &[],
};

/// The notify service of agency `token` (`iom`, `unhcr`), if it runs one.
pub fn notify(token: &str) -> Option<Service> {
    [NOTIFY_IOM, NOTIFY_UNHCR]
        .into_iter()
        .find(|service| service.name.strip_prefix("notify-") == Some(token))
}

/// Every service, in the order `tandem up` starts them.
pub const ALL: [Service; 5] = [INTAKE, LEADERSHIP, NOTIFY_IOM, NOTIFY_UNHCR, PUBLISH];

/// Every service's name, in [`ALL`]'s order.
pub const NAMES: [&str; 5] = [
    INTAKE.name,
    LEADERSHIP.name,
    NOTIFY_IOM.name,
    NOTIFY_UNHCR.name,
    PUBLISH.name,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_connection_is_the_name_after_tandem_and_every_durable_is_the_services_own() {
        for service in ALL {
            assert_eq!(service.connection, format!("tandem-{}", service.name));
            for durable in service.durables {
                assert!(durable.starts_with(service.connection), "{durable}");
            }
        }
        assert_eq!(NAMES, ALL.map(|service| service.name));
    }

    #[test]
    fn each_agency_token_finds_its_own_notify_service() {
        assert_eq!(notify("iom"), Some(NOTIFY_IOM));
        assert_eq!(notify("unhcr"), Some(NOTIFY_UNHCR));
        assert_eq!(notify("nrc"), None);
        assert_eq!(notify(""), None);
    }
}
