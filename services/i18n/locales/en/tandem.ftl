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

## Rationale: words the leadership policy's texts are filled with

agencies-and = and
agencies-none = no agency
agencies-partner-organisation = the partner organisation
rationale-policy-version = policy { $version }

## CLI: the tandem command line's rendering of determinations

cli-headline = { $situation } ({ $country }): { $classification } — { $leads } { $leaders ->
        [one] leads
       *[other] lead
    } ({ $arrangement })
cli-determination-first = determination { $sequence } under policy { $policy }: first determination
cli-determination-changed = determination { $sequence } under policy { $policy }: changed (was { $previous })
cli-determination-unchanged = determination { $sequence } under policy { $policy }: unchanged
cli-why = why: { $text } [{ $source }]
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
