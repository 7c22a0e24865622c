//! The effects of notify, shared by the determination handler, the acknowledgement handler and
//! the escalation timers: storing notifications, delivering each once per channel, recording
//! acknowledgements and escalations, and announcing what happened on
//! `tandem.notify.status.<agency>`.
//!
//! Exactly one delivery per (notification, recipient, channel), across redeliveries, restarts
//! and instances:
//! - the notification id is derived from what caused it, so every instance computes the same;
//! - before sending, an instance creates the delivery's claim key with compare-and-set; whoever
//!   loses waits for the winner's result instead of sending;
//! - a claim left `sending` by an instance that died is taken over after `claim_lease`; that
//!   one resend carries the same `Idempotency-Key` / `Nats-Msg-Id`, so receivers can drop it.

use std::{future::Future, time::Duration};

use anyhow::anyhow;
use async_nats::jetstream;
use opentelemetry::{KeyValue, metrics::Counter};
use prost::Message as _;
use tandem_proto::{
    subjects, timestamp,
    v1::{
        Channel, DeterminationReview, Discrepancy, LeadershipDetermination, Notification,
        NotificationKind, NotificationState, NotificationStatus, Role,
    },
};
use tandem_runtime::{
    envelope::{self, Envelope},
    metrics,
};
use tracing::Instrument as _;

use crate::{
    SERVICE,
    config::{NotifyAgency, NotifyConfig, SlaConfig},
    directory::{ChannelSpec, DirectoryEntry, LiveDirectory},
    email::{self, EmailSender},
    links::{Links, Recipient},
    review::Determinations,
    rules,
    store::{self, Acknowledgement, Claim, ClaimState, NotificationRecord, RecordState, Store},
    webhook::{Outcome, WebhookSender},
};

/// One agency's notifier.
pub(crate) struct Notifier {
    js: jetstream::Context,
    store: Store,
    directory: LiveDirectory,
    agency: NotifyAgency,
    sla: SlaConfig,
    webhook: WebhookSender,
    email: EmailSender,
    links: Option<Links>,
    /// Seconds an inbox link works after its notification was created.
    link_ttl_secs: i64,
    /// `trace_url`'s template (`…/trace/{trace_id}`); empty for none.
    trace_url: String,
    instance: String,
    lease: Duration,
    /// `tandem_notification_deliveries_total{agency, channel, outcome}`.
    deliveries: Counter<u64>,
    /// `tandem_notification_escalations_total{agency}`.
    escalations: Counter<u64>,
    /// The situations' current determinations, read for contests.
    determinations: Determinations,
}

impl Notifier {
    pub(crate) fn new(
        js: jetstream::Context,
        store: Store,
        directory: LiveDirectory,
        config: &NotifyConfig,
        links: Option<Links>,
        determinations: Determinations,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            js,
            store,
            directory,
            agency: config.agency,
            sla: config.sla.clone(),
            webhook: WebhookSender::new(config.webhook.clone())?,
            email: EmailSender::new(&config.smtp, config.webhook.clone())?,
            links,
            link_ttl_secs: i64::try_from(config.inbox.link_ttl_secs).unwrap_or(i64::MAX),
            trace_url: config.trace_url.trim().to_string(),
            instance: format!("{}-{:08x}", config.agency.token(), rand::random::<u32>()),
            lease: config.claim_lease(),
            deliveries: metrics::meter()
                .u64_counter("tandem.notification.deliveries")
                .with_description("Notification deliveries by channel and outcome")
                .build(),
            escalations: metrics::meter()
                .u64_counter("tandem.notification.escalations")
                .with_description("Notifications escalated one tier up, unacknowledged")
                .build(),
            determinations,
        })
    }

    /// Notifies this agency's recipients of `determination`: its country coordinators when it
    /// changed, its data focal points when it has a discrepancy the previous one had not. For
    /// a regional situation, so per country operation, and its regional coordinators when the
    /// situation as a whole changed.
    pub(crate) async fn on_determination(
        &self,
        determination: &LeadershipDetermination,
        trace_id: &str,
    ) -> anyhow::Result<()> {
        let directory = self.directory.entries().await?;
        let now = std::time::SystemTime::now();
        let country = &determination.country;
        let mut notifications = Vec::new();
        let mut due = false;
        if determination.regional {
            if determination.changed {
                due = true;
                let whole = Occasion {
                    determination,
                    operation: "",
                    trace_id,
                    now,
                };
                self.tell(
                    &whole,
                    NotificationKind::DeterminationChanged,
                    &[],
                    rules::regional_recipients(&directory, determination),
                    &mut notifications,
                );
            }
            for operation in &determination.operations {
                let view = rules::operation_view(determination, operation);
                let occasion = Occasion {
                    determination: &view,
                    operation: &operation.country,
                    trace_id,
                    now,
                };
                due |= self.first_line(&directory, &occasion, &mut notifications);
            }
        } else {
            let occasion = Occasion {
                determination,
                operation: "",
                trace_id,
                now,
            };
            due = self.first_line(&directory, &occasion, &mut notifications);
        }
        if notifications.is_empty() && due {
            tracing::warn!(
                determination.id = %determination.determination_id,
                %country,
                "nobody in the directory to notify: no focal point, regional coordinator or HQ covers this country"
            );
            return Ok(());
        }
        if notifications.is_empty() {
            tracing::info!(
                determination.id = %determination.determination_id,
                "nothing to notify"
            );
            return Ok(());
        }
        first_error(
            futures::future::join_all(
                notifications
                    .into_iter()
                    .map(|(notification, entry)| self.notify(notification, entry)),
            )
            .await,
        )
    }

    /// The first-line notifications of the occasion's determination (a country operation's
    /// view when its `operation` names the country): country coordinators when it changed,
    /// data focal points of new discrepancies. Whether anything was due, told or not.
    fn first_line<'a>(
        &self,
        directory: &'a [DirectoryEntry],
        occasion: &Occasion,
        notifications: &mut Vec<(Notification, &'a DirectoryEntry)>,
    ) -> bool {
        let determination = occasion.determination;
        let country = &determination.country;
        if determination.changed {
            self.tell(
                occasion,
                NotificationKind::DeterminationChanged,
                &[],
                rules::recipients(directory, Role::CountryCoordinator, country),
                notifications,
            );
        }
        // Leadership marks the discrepancies its previous determination did not have.
        let discrepancies: Vec<_> = determination
            .discrepancies
            .iter()
            .filter(|d| d.new)
            .collect();
        if !discrepancies.is_empty() {
            self.tell(
                occasion,
                NotificationKind::Discrepancy,
                &discrepancies,
                rules::recipients(directory, Role::DataFocalPoint, country),
                notifications,
            );
        }
        determination.changed || !discrepancies.is_empty()
    }

    /// Adds a first notification of `kind` for each of `recipients`, due within their role's
    /// acknowledgement time.
    fn tell<'a>(
        &self,
        occasion: &Occasion,
        kind: NotificationKind,
        discrepancies: &[&Discrepancy],
        recipients: Vec<&'a DirectoryEntry>,
        notifications: &mut Vec<(Notification, &'a DirectoryEntry)>,
    ) {
        for entry in recipients {
            let notification = rules::first_notification(
                occasion.determination,
                occasion.operation,
                kind,
                discrepancies,
                entry,
                occasion.trace_id,
                occasion.now,
                self.sla.for_role(entry.role.0),
            );
            notifications.push((notification, entry));
        }
    }

    /// Tells this agency's regional coordinators covering the country (HQ where there are none)
    /// of contest `review`, with its reason. Both agencies' notifiers see every review, so both
    /// agencies' coordinators are told.
    pub(crate) async fn on_contest(
        &self,
        review: &DeterminationReview,
        trace_id: &str,
    ) -> anyhow::Result<()> {
        let directory = self.directory.entries().await?;
        let determination = self
            .determinations
            .record(&review.situation_id)
            .await?
            .and_then(|r| r.determination)
            .filter(|d| d.determination_id == review.determination_id)
            .unwrap_or_else(|| LeadershipDetermination {
                // Superseded since: the contest is still told, with what the review names.
                situation_id: review.situation_id.clone(),
                determination_id: review.determination_id.clone(),
                country: review.country.clone(),
                ..Default::default()
            });
        let now = std::time::SystemTime::now();
        let recipients = rules::recipients(&directory, Role::RegionalCoordinator, &review.country);
        if recipients.is_empty() {
            tracing::warn!(review.id = %review.review_id, country = %review.country, "nobody in the directory to tell of a contest: no regional coordinator or HQ covers this country");
        }
        first_error(
            futures::future::join_all(recipients.into_iter().map(|entry| {
                let sla = self.sla.for_role(entry.role.0);
                let notification =
                    rules::contest_notification(review, &determination, entry, trace_id, now, sla);
                self.notify(notification, entry)
            }))
            .await,
        )
    }

    /// Stores `notification` (or finds it stored by an earlier delivery), starts its timer and
    /// delivers it over every channel of `entry`, all at once so one slow channel delays none.
    pub(crate) async fn notify(
        &self,
        mut notification: Notification,
        entry: &DirectoryEntry,
    ) -> anyhow::Result<()> {
        self.add_links(&mut notification, entry);
        let escalate_at_ms = notification
            .acknowledge_by
            .as_ref()
            .and_then(timestamp::to_system_time)
            .map(store::to_ms)
            .unwrap_or_else(store::now_ms);
        let record = self
            .store
            .create_record(NotificationRecord {
                notification,
                state: RecordState::Pending,
                escalate_at_ms,
                acknowledged: None,
                escalated_to: Vec::new(),
            })
            .await?;
        let notification = &record.notification;
        if record.state == RecordState::Pending {
            self.store
                .set_timer(&notification.notification_id, record.escalate_at_ms)
                .await?;
        }
        tracing::info!(
            notification.id = %notification.notification_id,
            recipient = %notification.recipient_id,
            tier = notification.escalation_tier,
            "notifying"
        );
        first_error(
            futures::future::join_all(entry.channels.iter().map(|channel| {
                // One span per delivery, so the dashboard shows each channel's fate.
                let span = tracing::info_span!(
                    "deliver",
                    otel.name = format!("notify deliver {}", channel.kind().as_str_name()),
                    notification.id = %notification.notification_id,
                    notification.channel = channel.kind().as_str_name(),
                    recipient.id = %notification.recipient_id,
                    situation.id = %notification.situation_id,
                    outcome = tracing::field::Empty,
                    error = tracing::field::Empty,
                    otel.status_code = tracing::field::Empty,
                );
                self.deliver(notification, channel, entry).instrument(span)
            }))
            .await,
        )
    }

    /// Sets the notification's `inbox_url` (when the listener is served: a link to the
    /// recipient's inbox that expires `link_ttl_secs` after the notification was created, so
    /// every redelivery computes the same) and `trace_url` (when a dashboard is configured).
    fn add_links(&self, notification: &mut Notification, entry: &DirectoryEntry) {
        if let Some(links) = &self.links {
            let created = notification.created_at.as_ref().map_or(0, |t| t.seconds);
            let recipient = Recipient {
                agency: entry.agency,
                id: entry.id.clone(),
            };
            notification.inbox_url =
                links.inbox_link(&recipient, created.saturating_add(self.link_ttl_secs));
        }
        if let Some(url) = envelope::trace_link(&self.trace_url, &notification.trace_id) {
            notification.trace_url = url;
        }
    }

    /// Delivers `notification` over `channel` of `entry` unless it was delivered (or failed)
    /// already.
    async fn deliver(
        &self,
        notification: &Notification,
        channel: &ChannelSpec,
        entry: &DirectoryEntry,
    ) -> anyhow::Result<()> {
        match channel {
            // On the bus, the stream's deduplication makes the delivery exactly-once by itself:
            // the message and its status carry ids fixed by the notification, and the
            // 10-minute window outlasts a determination's whole redelivery life
            // (`max_deliver` × `ack_wait`, under a minute by default). No claim, so none of its
            // three round trips.
            ChannelSpec::Nats {} => {
                self.publish_out(notification).await?;
                let outcome = Outcome {
                    delivered: true,
                    attempts: 1,
                    reason: String::new(),
                };
                self.record_outcome(notification, Channel::Nats, &outcome);
                self.publish_delivery(notification, Channel::Nats, &outcome)
                    .await
            }
            ChannelSpec::Webhook {
                url,
                secret,
                previous_secrets,
            } => {
                let secrets: Vec<&str> = std::iter::once(secret)
                    .chain(previous_secrets)
                    .map(String::as_str)
                    .collect();
                let send = self.webhook.send(notification, url, &secrets);
                self.deliver_claimed(notification, Channel::Webhook, send)
                    .await
            }
            ChannelSpec::Email { address } => {
                let link = self
                    .links
                    .as_ref()
                    .map(|links| links.link(&notification.notification_id));
                let reader = email::Reader {
                    lang: entry.lang(),
                    tz: &entry.tz,
                };
                let send = self
                    .email
                    .send(notification, address, link.as_deref(), reader);
                self.deliver_claimed(notification, Channel::Email, send)
                    .await
            }
        }
    }

    /// Runs `send` (a delivery with effects outside NATS, which no stream deduplicates) under
    /// a claim in KV, so that one instance sends it, once, across redeliveries and crashes.
    async fn deliver_claimed(
        &self,
        notification: &Notification,
        kind: Channel,
        send: impl Future<Output = Outcome>,
    ) -> anyhow::Result<()> {
        let id = &notification.notification_id;
        let mine = Claim {
            state: ClaimState::Sending,
            instance: self.instance.clone(),
            since_ms: store::now_ms(),
            attempts: 0,
            reason: String::new(),
        };
        let revision = loop {
            match self.store.claim(id, kind).await? {
                None => {
                    if let Some(revision) = self.store.write_claim(id, kind, &mine, 0).await? {
                        break revision;
                    }
                }
                Some((claim, _)) if claim.state != ClaimState::Sending => {
                    // Done before (a redelivery): make sure its status went out.
                    let outcome = Outcome {
                        delivered: claim.state == ClaimState::Delivered,
                        attempts: claim.attempts,
                        reason: claim.reason,
                    };
                    return self.publish_delivery(notification, kind, &outcome).await;
                }
                Some((claim, revision)) if store::age(claim.since_ms) >= self.lease => {
                    tracing::warn!(notification.id = %id, channel = ?kind, "taking over a delivery its instance never finished");
                    if let Some(revision) =
                        self.store.write_claim(id, kind, &mine, revision).await?
                    {
                        break revision;
                    }
                }
                // Another instance is sending it: wait for its result rather than send twice.
                Some(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        let outcome = send.await;
        self.record_outcome(notification, kind, &outcome);
        let done = Claim {
            state: if outcome.delivered {
                ClaimState::Delivered
            } else {
                ClaimState::Failed
            },
            attempts: outcome.attempts,
            reason: outcome.reason.clone(),
            ..mine
        };
        if self
            .store
            .write_claim(id, kind, &done, revision)
            .await?
            .is_none()
        {
            tracing::warn!(notification.id = %id, channel = ?kind, "another instance took this delivery over meanwhile");
        }
        self.publish_delivery(notification, kind, &outcome).await
    }

    /// The delivery's outcome on its span, in the metrics and in the log.
    fn record_outcome(&self, notification: &Notification, kind: Channel, outcome: &Outcome) {
        let id = &notification.notification_id;
        let span = tracing::Span::current();
        let result = if outcome.delivered {
            "delivered"
        } else {
            "failed"
        };
        span.record("outcome", result);
        self.deliveries.add(
            1,
            &[
                KeyValue::new("agency", self.agency.token()),
                KeyValue::new("channel", kind.as_str_name()),
                KeyValue::new("outcome", result),
            ],
        );
        if outcome.delivered {
            tracing::info!(notification.id = %id, channel = ?kind, attempts = outcome.attempts, "delivered");
        } else {
            span.record("otel.status_code", "ERROR");
            span.record("error", outcome.reason.as_str());
            tracing::warn!(notification.id = %id, channel = ?kind, reason = %outcome.reason, attempts = outcome.attempts, "delivery failed");
        }
    }

    async fn publish_out(&self, notification: &Notification) -> anyhow::Result<()> {
        let id = format!("notification:{}", notification.notification_id);
        Envelope {
            service: SERVICE,
            event: "notification",
            subject: &notification.situation_id,
            id: &id,
        }
        .publish(
            &self.js,
            subjects::notify_out_subject(self.agency.token(), &notification.recipient_id),
            notification.encode_to_vec().into(),
        )
        .await?;
        Ok(())
    }

    async fn publish_delivery(
        &self,
        notification: &Notification,
        channel: Channel,
        outcome: &Outcome,
    ) -> anyhow::Result<()> {
        let state = match outcome.delivered {
            true => NotificationState::Delivered,
            false => NotificationState::Failed,
        };
        self.publish_status(
            notification,
            NotificationStatus {
                state: state as i32,
                channel: channel as i32,
                reason: outcome.reason.clone(),
                attempts: outcome.attempts,
                ..Default::default()
            },
            channel.as_str_name(),
        )
        .await
    }

    /// Announces `status` of `notification`; `discriminator` keeps statuses of one
    /// notification apart in the stream's deduplication.
    async fn publish_status(
        &self,
        notification: &Notification,
        mut status: NotificationStatus,
        discriminator: &str,
    ) -> anyhow::Result<()> {
        status.notification_id = notification.notification_id.clone();
        status.recipient_agency = notification.recipient_agency;
        status.recipient_id = notification.recipient_id.clone();
        status.situation_id = notification.situation_id.clone();
        status.determination_id = notification.determination_id.clone();
        status.kind = notification.kind;
        status.at = Some(timestamp::now());
        let id = format!(
            "status:{}:{}:{discriminator}",
            notification.notification_id,
            status.state().as_str_name()
        );
        Envelope {
            service: SERVICE,
            event: "notification.status",
            subject: &notification.situation_id,
            id: &id,
        }
        .publish(
            &self.js,
            subjects::notify_status_subject(self.agency.token()),
            status.encode_to_vec().into(),
        )
        .await?;
        Ok(())
    }

    /// Records that notification `id` was acknowledged by `by` (a directory id, or `system`)
    /// through `via` (cli, nats, link), stops its timer and those of the escalations it led
    /// to — except a contest's, which escalates while the determination stays contested,
    /// acknowledged or not. `false` when it is not this agency's.
    pub(crate) async fn acknowledge(&self, id: &str, by: &str, via: &str) -> anyhow::Result<bool> {
        let mut queue = vec![id.to_string()];
        let mut known = false;
        while let Some(id) = queue.pop() {
            let acknowledged = Acknowledgement {
                at: envelope::now_rfc3339(),
                via: via.to_string(),
                by: by.to_string(),
            };
            let Some((record, _)) = self
                .store
                .update_record(&id, |record| {
                    if record.state == RecordState::Acknowledged {
                        return false;
                    }
                    record.state = RecordState::Acknowledged;
                    record.acknowledged = Some(acknowledged.clone());
                    true
                })
                .await?
            else {
                continue;
            };
            known = true;
            if record.notification.kind() != NotificationKind::Contested {
                self.store.clear_timer(&id).await?;
            }
            self.publish_status(
                &record.notification,
                NotificationStatus {
                    state: NotificationState::Acknowledged as i32,
                    acknowledged_by: by.to_string(),
                    acknowledged_via: via.to_string(),
                    ..Default::default()
                },
                "",
            )
            .await?;
            tracing::info!(notification.id = %id, via, "acknowledged");
            queue.extend(record.escalated_to.iter().cloned());
        }
        Ok(known)
    }

    /// Escalates notification `id` if it is still unacknowledged past its deadline; resumes an
    /// escalation an instance began but did not finish. Returns when to look at it again, or
    /// `None` when its timer is done with.
    pub(crate) async fn escalate(&self, id: &str) -> anyhow::Result<Option<Duration>> {
        let Some((record, _)) = self.store.record(id).await? else {
            self.store.clear_timer(id).await?;
            return Ok(None);
        };
        // A contest escalates while it stands, whether or not it was acknowledged.
        let contest = record.notification.kind() == NotificationKind::Contested;
        let open = record.state == RecordState::Pending
            || (contest && record.state == RecordState::Acknowledged);
        match record.state {
            _ if open && store::now_ms() < record.escalate_at_ms => {
                let left = record.escalate_at_ms.saturating_sub(store::now_ms());
                return Ok(Some(Duration::from_millis(left)));
            }
            RecordState::Acknowledged | RecordState::Expired if !open => {
                self.store.clear_timer(id).await?;
                return Ok(None);
            }
            _ => {}
        }
        if contest
            && open
            && !self
                .determinations
                .contested(&record.notification.situation_id)
                .await?
        {
            tracing::info!(notification.id = %id, "the contest was resolved before its deadline");
            self.store.clear_timer(id).await?;
            return Ok(None);
        }
        let original = &record.notification;
        let directory = self.directory.entries().await?;
        let now = std::time::SystemTime::now();
        let escalations: Vec<(Notification, &DirectoryEntry)> =
            rules::escalation_recipients(&directory, original.recipient_role(), &original.country)
                .into_iter()
                .map(|entry| {
                    let sla = self.sla.for_role(entry.role.0);
                    (rules::escalation(original, entry, now, sla), entry)
                })
                .collect();
        let ids: Vec<String> = escalations
            .iter()
            .map(|(n, _)| n.notification_id.clone())
            .collect();
        if open {
            let decided = self
                .store
                .update_record(id, |record| {
                    let still_open = record.state == RecordState::Pending
                        || (contest && record.state == RecordState::Acknowledged);
                    if !still_open {
                        return false;
                    }
                    if ids.is_empty() {
                        record.state = RecordState::Expired;
                    } else {
                        record.state = RecordState::Escalated;
                        record.escalated_to = ids.clone();
                    }
                    true
                })
                .await?;
            // Acknowledged meanwhile, or another instance won: it finishes the escalation and
            // clears the timer. Should it die first, the timer is still there: look again once
            // its claims could be taken over.
            if !decided.is_some_and(|(_, changed)| changed) {
                return Ok(Some(self.lease));
            }
        }
        if escalations.is_empty() {
            tracing::warn!(notification.id = %id, "not acknowledged in time, and there is no tier left to escalate to");
            self.store.clear_timer(id).await?;
            return Ok(None);
        }
        for (escalation, entry) in escalations {
            // A resumed escalation only finishes what was decided.
            if record.state == RecordState::Escalated
                && !record.escalated_to.contains(&escalation.notification_id)
            {
                continue;
            }
            let to = escalation.notification_id.clone();
            self.notify(escalation, entry).await?;
            self.publish_status(
                original,
                NotificationStatus {
                    state: NotificationState::Escalated as i32,
                    escalated_to_notification_id: to.clone(),
                    ..Default::default()
                },
                &to,
            )
            .await?;
            self.escalations
                .add(1, &[KeyValue::new("agency", self.agency.token())]);
            tracing::info!(notification.id = %id, escalated_to = %to, "escalated one tier up");
        }
        self.store.clear_timer(id).await?;
        Ok(None)
    }
}

/// `Ok` when every result is, else the first error.
fn first_error(results: Vec<anyhow::Result<()>>) -> anyhow::Result<()> {
    results.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
    Ok(())
}

/// The notification id of an ack subject.
pub(crate) fn acked_id(subject: &str) -> anyhow::Result<&str> {
    subjects::acknowledged_id(subject)
        .filter(|id| crate::rules::is_notification_id(id))
        .ok_or_else(|| anyhow!("{subject} does not name a notification"))
}

/// What a determination's first notifications are about: the determination (or a country
/// operation's view of it, `operation` naming the country; empty for the situation itself),
/// its trace and when it was handled.
struct Occasion<'d> {
    determination: &'d LeadershipDetermination,
    operation: &'d str,
    trace_id: &'d str,
    now: std::time::SystemTime,
}
