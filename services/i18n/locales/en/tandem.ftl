# tandem's texts in English. Every message here exists in fr/ and es/ with the same
# placeholders (checked by services/i18n's tests). Sections keep each area's messages together.

## Common

language-name = English
situation-title = Situation { $situation }

## Words: the contract's enum values, one message per value, its id the value's proto
## name in lower case with hyphens (CLASSIFICATION_MIXED_MOVEMENT: classification-mixed-movement).

classification-unspecified = unclassified situation
classification-refugee-situation = refugee situation
classification-migrant-situation = migrant situation
classification-mixed-movement = mixed movement
classification-respective-mandates = situation under the respective mandates
classification-idp-situation = IDP situation
classification-idp-durable-solutions = IDP durable solutions situation
classification-pending-joint-assessment = situation pending joint assessment
arrangement-unspecified = no arrangement
arrangement-refugee-coordination-model = refugee coordination model
arrangement-iom-led-response = IOM-led response
arrangement-joint-platform = joint platform
arrangement-respective-mandates = respective mandates
arrangement-cluster-system = IASC cluster system
arrangement-joint-solutions-support = joint durable solutions support
arrangement-joint-assessment = joint assessment
arrangement-designated = designated leadership
agency-unspecified = unspecified agency
agency-iom = IOM
agency-unhcr = UNHCR
agency-partner = partner
leadership-function-unspecified = unspecified function
leadership-function-strategic-planning = strategic planning
leadership-function-engagement-with-states = engagement with States
leadership-function-data-management = data management
leadership-function-resource-mobilization = resource mobilisation
leadership-function-inclusive-coordination = inclusive coordination
leadership-function-protection-cluster = Protection cluster
leadership-function-cccm-cluster = CCCM cluster
population-group-unspecified = people of an unspecified group
population-group-refugee = refugees
population-group-asylum-seeker = asylum seekers
population-group-other-in-need-of-protection = other people in need of international protection
population-group-stateless = stateless people
population-group-migrant = migrants
population-group-idp = IDPs
population-group-returned-refugee = returned refugees
population-group-returned-idp = returned IDPs
population-group-host-community = host community members
population-group-undetermined = refugees and migrants whose status is not determined
driver-unspecified = unspecified
driver-conflict = conflict
driver-disaster = disaster
driver-economic = economic
driver-mixed = mixed
scope-unspecified = unspecified
scope-cross-border = cross-border
scope-internal = internal
phase-unspecified = unspecified
phase-emergency = emergency
phase-protracted = protracted
phase-solutions = solutions
determination-status-unspecified = not reviewed
determination-status-provisional = provisional
determination-status-agreed = agreed by IOM and UNHCR
determination-status-contested = contested
review-verdict-unspecified = no verdict
review-verdict-endorse = endorsed
review-verdict-contest = contested
durable-solutions-criterion-unspecified = unspecified criterion
durable-solutions-criterion-safety-and-security = safety and security
durable-solutions-criterion-standard-of-living = adequate standard of living
durable-solutions-criterion-livelihoods = access to livelihoods
durable-solutions-criterion-housing-land-and-property = housing, land and property
durable-solutions-criterion-documentation = documentation
durable-solutions-criterion-family-reunification = family reunification
durable-solutions-criterion-participation = participation in public affairs
durable-solutions-criterion-remedies-and-justice = access to remedies and justice
role-unspecified = unspecified role
role-country-coordinator = country coordinator
role-data-focal-point = data focal point
role-regional-coordinator = regional coordinator
role-hq = headquarters
notification-kind-unspecified = notification
notification-kind-determination-changed = leadership changed
notification-kind-discrepancy = figures disagree
notification-kind-contested = determination contested

## Notification: the summary every notification carries (`Notification.summary`), in the
## recipient's language.

summary-escalation = ESCALATION (tier { $tier }): notification { $notification } was not acknowledged in time.
summary-discrepancy = IOM and UNHCR figures disagree for situation { $situation } in { $country }:
summary-discrepancy-line = { $group }: IOM { $iom } vs UNHCR { $unhcr } ({ $percent }% apart)
summary-discrepancy-ask = Please reconcile the figures with your counterpart (FoE B.3 data).
summary-contested = { $agency } ({ $by }) contests determination { $determination } of situation { $situation } in { $country }: { $classification } coordinated as { $arrangement }, led by { $leads }.
summary-contest-reason = Reason: { $reason }
summary-contest-stands = It stays in force while the agencies resolve it; it goes to both HQs if still contested after the deadline.
summary-determined = Situation { $situation } in { $country } is now classified as { $classification }, coordinated as { $arrangement }, led by { $leads }.
summary-determined-operation = The { $country } operation of regional situation { $situation } is now classified as { $classification }, coordinated as { $arrangement }, led by { $leads }.
summary-agency-partners = { $agency } partners in this response.
summary-agency-co-leads = { $agency } co-leads this response.
summary-agency-leads = { $agency } leads this response.
summary-functions = Functions:
summary-why = Why:
summary-determination = Determination { $determination }
summary-trace = trace { $trace }
summary-nobody = nobody yet
summary-an-agency = an agency
summary-your-agency = your agency

## Email: the e-mail of a notification, subject and body.

email-subject = { $situation } { $kind } — please acknowledge
email-subject-escalation = ESCALATION: { $situation } { $kind } — please acknowledge
email-acknowledge-by = Please acknowledge by { $deadline }, or it escalates:
email-open-inbox = Open your inbox: { $url }
email-inbox-link = Open your inbox
email-or-command = or run
email-or-nats = or publish any message on { $subject }
email-or-link = or acknowledge with one click: { $url }
email-trace = Trace of the determination: { $url }
email-acknowledge = Acknowledge with one click
email-trace-link = Trace of the determination

## Inbox: the coordinator's inbox page (`/inbox`).

inbox-title = Your notifications
inbox-heading = Notifications waiting for { $name }
inbox-intro = Notifications waiting for your acknowledgement, oldest first. Opening this page changes nothing; the buttons do.
inbox-more = { $count } more are waiting; these are the oldest.
inbox-empty = Nothing is waiting for you.
inbox-times = Times are shown in { $tz }.
inbox-refused-title = This link is not valid
inbox-refused = This inbox link is not valid, has expired, or is not yours. Use the link in your latest notification.
inbox-unavailable = The inbox cannot be read now; please try again in a moment.
inbox-notification = { $kind }: situation { $situation } in { $country }
inbox-escalation = Escalation, tier { $tier }: the previous recipient did not acknowledge in time.
inbox-deadline = Acknowledge by { $deadline }
inbox-situation = The situation as it stands
inbox-classification = Classification
inbox-arrangement = Arrangement
inbox-leads = Led by
inbox-status = Status
inbox-functions = Who leads each function
inbox-function = Function
inbox-why = Why
inbox-figures = Figures
inbox-group = Group
inbox-people = People
inbox-source = Reported by
inbox-as-of = As of
inbox-reviews = Reviews
inbox-no-reviews = No review yet.
inbox-review = { $agency } ({ $by }) { $verdict } on { $at }
inbox-history = History
inbox-history-determined = { $at }: determination { $determination } made
inbox-history-previous = Before it, the situation was classified as { $classification }.
inbox-history-notified = { $at }: you were notified
inbox-no-determination = The situation's current determination cannot be read now.
inbox-superseded = A newer determination, { $determination }, has replaced the one you were notified of; it is shown here.
inbox-actions = What do you do?
inbox-acknowledge = Acknowledge
inbox-endorse = Endorse
inbox-contest = Contest
inbox-contest-reason = Reason for contesting (required; no names, phone numbers or e-mail addresses)
inbox-trace = Trace of this determination
inbox-done-acknowledged = Notification acknowledged. Thank you.
inbox-done-reviewed = Your review is recorded. Thank you.
inbox-failed = Not recorded; please try again.
inbox-review-refused = Your review was not recorded: the determination may have changed since, or you may not review this situation.
inbox-needs-reason = A contest needs a reason.
inbox-reason-too-long = The reason may have at most { $max } characters.
inbox-personal-data = The reason seems to hold personal data (a name, phone number or e-mail address); please remove it.

## Ack: the page of the acknowledgement link in every notification (`/ack/<id>`).

ack-title = Acknowledge a notification
ack-intro = Opening this page changes nothing; the buttons do.
ack-review = Or review determination { $determination } for { $agency }:
ack-acknowledged = Notification { $id } acknowledged. Thank you.
ack-reviewed = Your review of determination { $determination } is recorded; it is now { $status }. Thank you.
ack-ack-failed = The acknowledgement could not be recorded; please try again.
ack-review-failed = The review could not be recorded now; please try again.
ack-unreadable = The notification could not be read; please try again.
ack-refused-title = This link is not valid
ack-refused = This acknowledgement link is not valid. Use the link in your latest notification.

## Page: what every HTML page shares (services/web).

page-site-name = tandem · IOM and UNHCR
page-skip = Skip to content
page-languages = Language
page-footer = tandem: IOM and UNHCR working together under their Framework of Engagement.
page-not-found = Page not found
page-not-found-text = There is no page at this address.
page-back-home = Back to the situation board

## Board: the public situation board (services/publish/src/board.rs).

board-title = Situations
board-intro = Who leads the response to each situation, and the figures IOM and UNHCR publish together.
board-filters = Filter the situations
board-filter-country = Country
board-filter-classification = Classification
board-filter-lead = Lead agency
board-filter-any = All
board-filter-apply = Apply filters
board-shown = Situations shown: { $shown } of { $total }
board-none = No situation matches these filters.
board-col-situation = Situation
board-col-country = Country
board-col-classification = Classification
board-col-lead = Lead
board-col-people = People
board-col-reported = Last report
board-pages = Pages
board-previous = Previous page
board-next = Next page
board-page = Page { $page } of { $pages }
board-total-partial = The total leaves out groups of 1 to 4 people, which are not published.
board-downloads = Downloads
board-download-csv = All situations (CSV with HXL tags)
board-download-json = All situations (JSON)
board-download-datapackage = Data package (Frictionless)
board-download-series = This situation over time (CSV)
board-download-situation = This situation (JSON)
board-download-history = Every determination of this situation (JSON)
board-starting-title = Starting
board-starting = The data is being rebuilt. Try again in a moment.
board-bad-request-title = Invalid address
board-bad-request = This address asks for a filter or a value the board does not know. Choose from the lists on the board.
board-leads = Who leads and why
board-classification = Classification
board-arrangement = Arrangement
board-lead-agencies = Lead agencies
board-status = Status
board-determined = Determined
board-policy = Policy version
board-last-reported = Last report
board-functions = Functions
board-function = Function
board-agencies = Agencies
board-why = Why
board-basis = Basis
board-figures = Figures
board-group = Population group
board-people = People
board-as-of = As of
board-source = Source
board-total = Total
board-suppressed = 1 to 4 people (not published)
board-figures-chart = People by group over time
board-figures-chart-desc = One line per population group, from { $from } to { $to }. Counts of 1 to 4 people are left out.
board-classification-chart = Classification over time
board-classification-chart-desc = One band per classification, from { $from } to { $to }.
board-chart-data = The chart's data as a table
board-chart-capped = Only the last { $count } determinations are drawn.
board-date = Date
board-reviews = Reviews
board-no-reviews = No agency has reviewed this determination yet.
board-review-agency = Agency
board-review-verdict = Verdict
board-review-at = When
board-review-comment = Comment
board-operations = Country operations

## Board traces: each determination's link to its trace (TANDEM_TRACE_URL).
board-trace = Trace
board-trace-link = Trace of the determination of { $date }

## Rationale: words the leadership policy's texts are filled with

agencies-and = and
agencies-none = no agency
agencies-partner-organisation = the partner organisation
rationale-policy-version = policy { $version }

## CLI: the tandem command line's rendering of determinations

cli-regional-place = regional: { $countries }
cli-headline = { $situation } ({ $country }): { $classification } — { $leads } { $leaders ->
        [one] leads
       *[other] lead
    } ({ $arrangement })
cli-determination-first = determination { $sequence } under policy { $policy }: first determination
cli-determination-changed = determination { $sequence } under policy { $policy }: changed (was { $previous })
cli-determination-unchanged = determination { $sequence } under policy { $policy }: unchanged
cli-why = why: { $text } [{ $source }]
cli-regional-operations = regional situation: { $count } country operation(s)
cli-operation = operation { $country }: { $classification } — { $leads } { $leaders ->
        [one] leads
       *[other] lead
    } ({ $arrangement }), protection share { $share }{ $changed ->
        [yes] , changed
       *[no] {""}
    }
cli-determined = determined { $headline } (#{ $sequence }, { $change ->
        [changed] changed
       *[unchanged] unchanged
    })
cli-event-report = report     { $report } rev { $revision } of { $situation } from { $organisation }
cli-event-undecodable = report     ({ $bytes } undecodable bytes on { $subject })
cli-event-accepted = accepted   { $report } rev { $revision } of { $situation } in { $country } from { $organisation }
cli-event-rejected = rejected   { $report } of { $situation } from { $organisation }: { $reasons } reason(s)
cli-event-notified = notified   { $recipient } ({ $agency }, { $role }) about { $situation }: { $kind } — { $agency } { $position ->
        [leads] leads
       *[partners] partners
    }
cli-event-escalation = (escalation, tier { $tier })
cli-event-status = status     { $notification } { $state }
cli-event-dataset = dataset    { $dataset } version { $version }: { $rows } rows, sha256 { $sha256 }
cli-event-dead-letter = DEAD LETTER { $service }: message on { $subject } after { $deliveries } deliveries: { $error }
cli-event-other = event      { $subject } ({ $bytes } bytes)
cli-trace = trace { $trace }
cli-no-trace = no trace (its event is not on { $stream } or carries no trace context)
cli-no-determination = no determination for situation { $situation }
cli-review-recorded = recorded: { $agency } ({ $by }) { $verdict ->
        [contest] contested
       *[endorse] endorsed
    } determination { $determination }; it is now { $status }

## CLI lists: `tandem notifications`, `tandem situation history` and `tandem policy` in the reader's
## language (ids, clause citations and file paths stay as they are).

cli-column-id = ID
cli-column-agency = AGENCY
cli-column-recipient = RECIPIENT
cli-column-kind = KIND
cli-column-situation = SITUATION
cli-column-tier = TIER
cli-column-state = STATE
cli-column-acknowledge-by = ACKNOWLEDGE BY
cli-notification-state = { $state ->
        [pending] pending
        [acknowledged] acknowledged
        [escalated] escalated
       *[expired] expired
    }
cli-ack-recorded = acknowledged { $notification }
cli-ack-already = { $notification } was already acknowledged
cli-ack-already-by = { $notification } was already acknowledged at { $at } by { $by } (via { $via })
cli-ack-unknown = no notification { $notification }
cli-ack-not-recorded = acknowledgement of { $notification } sent; no notify instance recorded it within { $seconds } s (it will when one runs)
cli-history-determination = { $determination } { $at }: { $classification } ({ $arrangement }), { $status }{ $changed ->
        [yes] {""}
       *[no] {" "}(outcome unchanged)
    }
cli-history-review = review: { $agency } { $by } { $verdict } at { $at }{ $comment } -> { $status }
cli-history-notified = notified: { $agency } { $recipient } ({ $kind }), { $acknowledged }
cli-history-acknowledged = acknowledged by { $by } at { $at } via { $via }
cli-history-not-acknowledged = not acknowledged
cli-policy-refused = { $file } is refused:
cli-policy-valid = { $file }: policy { $version } is valid
cli-policy-untranslated = warning: the rule texts have no { $language } version (`languages` does not list "{ $code }"): those readers get the English texts
cli-policy-nothing-determined = no situations determined yet: nothing would change
cli-policy-unchanged = unchanged  { $situation }
cli-policy-changes = CHANGES    { $situation }
cli-policy-now = now:   { $headline }
cli-policy-would = would: { $headline }
cli-policy-summary = { $changed } of { $total } situation(s) would change under policy { $version }
cli-policy-unmatched-override = override for { $situation } ({ $reference }) matches no situation
cli-policy-since-invalid = --since { $date } is not a date in the form YYYY-MM-DD
cli-policy-replay-difference = after { $report }: { $current } determined, { $candidate } under { $version }
cli-policy-replay-summary = { $differing } of { $total } situation(s) would have been classified differently under policy { $version }
cli-policy-applied = policy { $version }: { $situations } situation(s) re-evaluated, { $changed } changed{ $list }
cli-policy-apply-failed = failed: { $failure }
cli-review-bad-agency = --agency must be iom or unhcr, not { $agency }
cli-review-refused = refused: { $reason }
cli-review-not-recorded = not recorded: { $error }
