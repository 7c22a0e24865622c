# Les textes de tandem en français. Mêmes messages et mêmes paramètres que en/.

## Common

language-name = Français
situation-title = Situation { $situation }

## Words: the contract's enum values, one message per value, its id the value's proto
## name in lower case with hyphens (CLASSIFICATION_MIXED_MOVEMENT: classification-mixed-movement).

classification-unspecified = situation non classée
classification-refugee-situation = situation de réfugiés
classification-migrant-situation = situation de migrants
classification-mixed-movement = mouvement mixte
classification-respective-mandates = situation relevant des mandats respectifs
classification-idp-situation = situation de déplacement interne
classification-idp-durable-solutions = situation de solutions durables pour les déplacés internes
classification-pending-joint-assessment = situation en attente d’une évaluation conjointe
arrangement-unspecified = aucun dispositif
arrangement-refugee-coordination-model = modèle de coordination pour les réfugiés
arrangement-iom-led-response = réponse dirigée par l’OIM
arrangement-joint-platform = plateforme conjointe
arrangement-respective-mandates = mandats respectifs
arrangement-cluster-system = système de groupes sectoriels du CPI
arrangement-joint-solutions-support = appui conjoint aux solutions durables
arrangement-joint-assessment = évaluation conjointe
arrangement-designated = direction désignée
agency-unspecified = organisation non précisée
agency-iom = OIM
agency-unhcr = HCR
agency-partner = partenaire
leadership-function-unspecified = fonction non précisée
leadership-function-strategic-planning = planification stratégique
leadership-function-engagement-with-states = dialogue avec les États
leadership-function-data-management = gestion des données
leadership-function-resource-mobilization = mobilisation des ressources
leadership-function-inclusive-coordination = coordination inclusive
leadership-function-protection-cluster = groupe sectoriel Protection
leadership-function-cccm-cluster = groupe sectoriel CCCM
population-group-unspecified = personnes d’un groupe non précisé
population-group-refugee = réfugiés
population-group-asylum-seeker = demandeurs d’asile
population-group-other-in-need-of-protection = autres personnes ayant besoin d’une protection internationale
population-group-stateless = apatrides
population-group-migrant = migrants
population-group-idp = personnes déplacées internes
population-group-returned-refugee = réfugiés rapatriés
population-group-returned-idp = déplacés internes de retour
population-group-host-community = membres des communautés d’accueil
population-group-undetermined = réfugiés et migrants dont le statut n’est pas déterminé
driver-unspecified = non précisé
driver-conflict = conflit
driver-disaster = catastrophe
driver-economic = économique
driver-mixed = mixte
scope-unspecified = non précisée
scope-cross-border = transfrontalière
scope-internal = interne
phase-unspecified = non précisée
phase-emergency = urgence
phase-protracted = prolongée
phase-solutions = solutions
determination-status-unspecified = non examinée
determination-status-provisional = provisoire
determination-status-agreed = approuvée par l’OIM et le HCR
determination-status-contested = contestée
review-verdict-unspecified = aucun avis
review-verdict-endorse = approuvée
review-verdict-contest = contestée
durable-solutions-criterion-unspecified = critère non précisé
durable-solutions-criterion-safety-and-security = sûreté et sécurité
durable-solutions-criterion-standard-of-living = niveau de vie suffisant
durable-solutions-criterion-livelihoods = accès aux moyens de subsistance
durable-solutions-criterion-housing-land-and-property = logement, terre et biens
durable-solutions-criterion-documentation = documents d’état civil
durable-solutions-criterion-family-reunification = regroupement familial
durable-solutions-criterion-participation = participation aux affaires publiques
durable-solutions-criterion-remedies-and-justice = accès à des recours et à la justice
role-unspecified = rôle non précisé
role-country-coordinator = coordination nationale
role-data-focal-point = point focal données
role-regional-coordinator = coordination régionale
role-hq = siège
notification-kind-unspecified = notification
notification-kind-determination-changed = changement de direction
notification-kind-discrepancy = chiffres divergents
notification-kind-contested = décision contestée

## Rationale: words the leadership policy's texts are filled with

agencies-and = et
agencies-none = aucun organisme
agencies-partner-organisation = l’organisation partenaire
rationale-policy-version = politique { $version }

## CLI: the tandem command line's rendering of determinations

cli-headline = { $situation } ({ $country }) : { $classification } — { $leads } { $leaders ->
        [one] dirige
       *[other] dirigent
    } ({ $arrangement })
cli-determination-first = détermination { $sequence } selon la politique { $policy } : première détermination
cli-determination-changed = détermination { $sequence } selon la politique { $policy } : modifiée (auparavant : { $previous })
cli-determination-unchanged = détermination { $sequence } selon la politique { $policy } : inchangée
cli-why = pourquoi : { $text } [{ $source }]
cli-determined = détermination { $headline } (nº { $sequence }, { $change ->
        [changed] modifiée
       *[unchanged] inchangée
    })
cli-event-report = rapport    { $report } rév. { $revision } de { $situation } par { $organisation }
cli-event-undecodable = rapport    ({ $bytes } octets illisibles sur { $subject })
cli-event-accepted = accepté    { $report } rév. { $revision } de { $situation } en { $country } par { $organisation }
cli-event-rejected = refusé     { $report } de { $situation } par { $organisation } : { $reasons } motif(s)
cli-event-notified = notifié    { $recipient } ({ $agency }, { $role }) pour { $situation } : { $kind } — { $agency } { $position ->
        [leads] dirige
       *[partners] est partenaire
    }
cli-event-escalation = (escalade, niveau { $tier })
cli-event-status = état       { $notification } { $state }
cli-event-dataset = données    { $dataset } version { $version } : { $rows } lignes, sha256 { $sha256 }
cli-event-dead-letter = LETTRE MORTE { $service } : message sur { $subject } après { $deliveries } remises : { $error }
cli-event-other = événement  { $subject } ({ $bytes } octets)
cli-trace = trace { $trace }
cli-no-trace = pas de trace (son événement n’est pas sur { $stream } ou ne porte pas de contexte de trace)
cli-no-determination = aucune détermination pour la situation { $situation }
cli-review-recorded = enregistré : { $agency } ({ $by }) { $verdict ->
        [contest] a contesté
       *[endorse] a approuvé
    } la détermination { $determination } ; elle est désormais : { $status }
