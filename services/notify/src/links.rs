//! The signed links of notify's HTTP listener (docs/design.md, "Notifications"): one scheme,
//! HMAC-SHA256 with `ack_http.secret`, each use under its own prefix so a token of one kind is
//! never valid as another:
//!
//! - an ack link's token: hex of `HMAC("ack:" + notification id)`;
//! - an inbox link's token: `base64url(<agency>.<recipient id>.<expiry, unix seconds>)`, a dot,
//!   and `base64url(HMAC("inbox:" + that payload))`: bound to one recipient of one agency, and
//!   refused after its expiry;
//! - a form's CSRF token: `base64url(HMAC("csrf:<agency>.<recipient id>"))`, on every inbox
//!   form, so a page of another site cannot act in a signed-in coordinator's name (it cannot
//!   read the token; with a proxy's single sign-on the browser would send the credentials).
//!
//! Every comparison is the `hmac` crate's constant-time one; the key is never logged.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

use crate::{config::NotifyAgency, directory::is_valid_id};

/// A recipient an inbox link or a trusted proxy names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    /// Their agency.
    pub agency: NotifyAgency,
    /// Their directory id.
    pub id: String,
}

/// Makes and checks the listener's links.
#[derive(Clone)]
pub struct Links {
    public_url: String,
    key: Vec<u8>,
}

impl Links {
    /// Links under `public_url` signed with `secret`.
    pub fn new(public_url: &str, secret: &[u8]) -> Self {
        Self {
            public_url: public_url.trim_end_matches('/').to_string(),
            key: secret.to_vec(),
        }
    }

    fn mac(&self, purpose: &str, message: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(purpose.as_bytes());
        mac.update(b":");
        mac.update(message.as_bytes());
        mac
    }

    /// The token of ack link `id`.
    pub fn token(&self, id: &str) -> String {
        hex::encode(self.mac("ack", id).finalize().into_bytes())
    }

    /// The link acknowledging notification `id`.
    pub fn link(&self, id: &str) -> String {
        format!("{}/ack/{id}?token={}", self.public_url, self.token(id))
    }

    /// Whether `token` is the token of ack link `id`.
    pub fn verify(&self, id: &str, token: &str) -> bool {
        hex::decode(token).is_ok_and(|bytes| self.mac("ack", id).verify_slice(&bytes).is_ok())
    }

    /// The inbox token of `recipient`, valid until `expires` (unix seconds).
    pub fn inbox_token(&self, recipient: &Recipient, expires: i64) -> String {
        let payload = format!("{}.{}.{expires}", recipient.agency.token(), recipient.id);
        let signature = self.mac("inbox", &payload).finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(signature)
        )
    }

    /// The inbox link of `recipient`, valid until `expires` (unix seconds).
    pub fn inbox_link(&self, recipient: &Recipient, expires: i64) -> String {
        format!(
            "{}/inbox?t={}",
            self.public_url,
            self.inbox_token(recipient, expires)
        )
    }

    /// The recipient `token` names, if its signature holds and `now` (unix seconds) is before
    /// its expiry.
    pub fn inbox_recipient(&self, token: &str, now: i64) -> Option<Recipient> {
        // A token is ~120 characters; anything much longer is not one.
        if token.len() > 512 {
            return None;
        }
        let (payload, signature) = token.split_once('.')?;
        let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        self.mac("inbox", &payload).verify_slice(&signature).ok()?;
        let mut parts = payload.split('.');
        let (agency, id, expires) = (parts.next()?, parts.next()?, parts.next()?);
        let agency = NotifyAgency::ALL
            .into_iter()
            .find(|a| a.token() == agency)?;
        let expires: i64 = expires.parse().ok()?;
        (parts.next().is_none() && is_valid_id(id) && now < expires).then(|| Recipient {
            agency,
            id: id.to_string(),
        })
    }

    /// The CSRF token of `recipient`'s forms.
    pub fn csrf(&self, recipient: &Recipient) -> String {
        let who = format!("{}.{}", recipient.agency.token(), recipient.id);
        URL_SAFE_NO_PAD.encode(self.mac("csrf", &who).finalize().into_bytes())
    }

    /// Whether `token` is the CSRF token of `recipient`'s forms.
    pub fn verify_csrf(&self, recipient: &Recipient, token: &str) -> bool {
        let who = format!("{}.{}", recipient.agency.token(), recipient.id);
        URL_SAFE_NO_PAD
            .decode(token)
            .is_ok_and(|bytes| self.mac("csrf", &who).verify_slice(&bytes).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cc() -> Recipient {
        Recipient {
            agency: NotifyAgency::Iom,
            id: "col-iom-cc".into(),
        }
    }

    #[test]
    fn an_inbox_token_names_its_recipient_until_it_expires() {
        let links = Links::new("http://x/", b"secret");
        let token = links.inbox_token(&cc(), 1_000);
        assert_eq!(links.inbox_recipient(&token, 999), Some(cc()));
        assert_eq!(links.inbox_recipient(&token, 1_000), None, "expired");
        assert_eq!(
            Links::new("http://x", b"other").inbox_recipient(&token, 0),
            None,
            "another key"
        );
        // Another recipient's payload with this signature.
        let (_, signature) = token.split_once('.').expect("two parts");
        let forged = format!("{}.{signature}", URL_SAFE_NO_PAD.encode("iom.hq.1000"));
        assert_eq!(links.inbox_recipient(&forged, 0), None);
        assert!(links.inbox_link(&cc(), 5).starts_with("http://x/inbox?t="));
    }

    #[test]
    fn tokens_of_one_kind_are_not_valid_as_another() {
        let links = Links::new("http://x", b"secret");
        let csrf = links.csrf(&cc());
        assert!(links.verify_csrf(&cc(), &csrf));
        let other = Recipient {
            id: "other".into(),
            ..cc()
        };
        assert!(!links.verify_csrf(&other, &csrf));
        assert!(links.verify("iom.ntf-1", &links.token("iom.ntf-1")));
        assert!(!links.verify("iom.ntf-2", &links.token("iom.ntf-1")));
    }
}
