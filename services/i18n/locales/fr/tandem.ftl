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

## Notification: the summary every notification carries (`Notification.summary`), in the
## recipient's language.

summary-escalation = ESCALADE (niveau { $tier }) : la notification { $notification } n’a pas été prise en compte à temps.
summary-discrepancy = Les chiffres de l’OIM et du HCR divergent pour la situation { $situation } en/au { $country } :
summary-discrepancy-line = { $group } : OIM { $iom } contre HCR { $unhcr } (écart de { $percent } %)
summary-discrepancy-ask = Veuillez rapprocher les chiffres avec votre homologue (données, FoE B.3).
summary-contested = { $agency } ({ $by }) conteste la décision { $determination } sur la situation { $situation } en/au { $country } : { $classification } coordonnée selon le modèle « { $arrangement } », sous la direction de { $leads }.
summary-contest-reason = Motif : { $reason }
summary-contest-stands = Elle reste en vigueur pendant que les agences règlent le différend ; elle est transmise aux deux sièges si elle est toujours contestée à l’échéance.
summary-determined = La situation { $situation } en/au { $country } est désormais qualifiée de { $classification }, coordonnée selon le modèle « { $arrangement } », sous la direction de { $leads }.
summary-determined-operation = L’opération { $country } de la situation régionale { $situation } est désormais qualifiée de { $classification }, coordonnée selon le modèle « { $arrangement } », sous la direction de { $leads }.
summary-agency-partners = { $agency } est partenaire de cette réponse.
summary-agency-co-leads = { $agency } codirige cette réponse.
summary-agency-leads = { $agency } dirige cette réponse.
summary-functions = Fonctions :
summary-why = Motifs :
summary-determination = Décision { $determination }
summary-trace = trace { $trace }
summary-nobody = personne pour l’instant
summary-an-agency = une agence
summary-your-agency = votre agence

## Email: the e-mail of a notification, subject and body.

email-subject = { $situation } { $kind } — merci d’en accuser réception
email-subject-escalation = ESCALADE : { $situation } { $kind } — merci d’en accuser réception
email-acknowledge-by = Merci d’en accuser réception avant le { $deadline }, faute de quoi elle sera transmise au niveau supérieur :
email-open-inbox = Ouvrir votre boîte de réception : { $url }
email-inbox-link = Ouvrir votre boîte de réception
email-or-command = ou exécutez
email-or-nats = ou publiez un message quelconque sur { $subject }
email-or-link = ou accusez réception en un clic : { $url }
email-trace = Trace de la décision : { $url }
email-acknowledge = Accuser réception en un clic
email-trace-link = Trace de la décision

## Inbox: the coordinator's inbox page (`/inbox`).

inbox-title = Vos notifications
inbox-heading = Notifications en attente pour { $name }
inbox-intro = Les notifications qui attendent votre accusé de réception, de la plus ancienne à la plus récente. Ouvrir cette page ne modifie rien ; seuls les boutons le font.
inbox-more = { $count } autres attendent ; voici les plus anciennes.
inbox-empty = Rien ne vous attend.
inbox-times = Les heures sont indiquées dans le fuseau { $tz }.
inbox-refused-title = Ce lien n’est pas valide
inbox-refused = Ce lien vers la boîte de réception n’est pas valide, a expiré ou ne vous est pas destiné. Utilisez le lien de votre dernière notification.
inbox-unavailable = La boîte de réception est momentanément illisible ; veuillez réessayer dans un instant.
inbox-notification = { $kind } : situation { $situation } en/au { $country }
inbox-escalation = Escalade, niveau { $tier } : le destinataire précédent n’en a pas accusé réception à temps.
inbox-deadline = À prendre en compte avant le { $deadline }
inbox-situation = La situation actuelle
inbox-classification = Qualification
inbox-arrangement = Modèle de coordination
inbox-leads = Sous la direction de
inbox-status = Statut
inbox-functions = Qui dirige chaque fonction
inbox-function = Fonction
inbox-why = Motifs
inbox-figures = Chiffres
inbox-group = Groupe
inbox-people = Personnes
inbox-source = Communiqué par
inbox-as-of = Date des données
inbox-reviews = Avis
inbox-no-reviews = Aucun avis pour l’instant.
inbox-review = { $agency } ({ $by }) : { $verdict } le { $at }
inbox-history = Historique
inbox-history-determined = { $at } : décision { $determination } rendue
inbox-history-previous = Auparavant, la situation était qualifiée de { $classification }.
inbox-history-notified = { $at } : vous avez été notifié·e
inbox-no-determination = La décision actuelle sur la situation est momentanément illisible.
inbox-superseded = Une décision plus récente, { $determination }, a remplacé celle qui vous a été notifiée ; c’est elle qui est présentée ici.
inbox-actions = Que faites-vous ?
inbox-acknowledge = Accuser réception
inbox-endorse = Approuver
inbox-contest = Contester
inbox-contest-reason = Motif de la contestation (obligatoire ; ni nom, ni numéro de téléphone, ni adresse électronique)
inbox-trace = Trace de cette décision
inbox-done-acknowledged = Accusé de réception enregistré. Merci.
inbox-done-reviewed = Votre avis est enregistré. Merci.
inbox-failed = Rien n’a été enregistré ; veuillez réessayer.
inbox-review-refused = Votre avis n’a pas été enregistré : la décision a peut-être changé entre-temps, ou cette situation ne relève pas de vous.
inbox-needs-reason = Une contestation doit être motivée.
inbox-reason-too-long = Le motif ne peut dépasser { $max } caractères.
inbox-personal-data = Le motif semble contenir des données personnelles (nom, numéro de téléphone ou adresse électronique) ; veuillez les retirer.

## Ack: the page of the acknowledgement link in every notification (`/ack/<id>`).

ack-title = Accuser réception d’une notification
ack-intro = Ouvrir cette page ne change rien ; seuls les boutons agissent.
ack-review = Ou examinez la décision { $determination } pour { $agency } :
ack-acknowledged = Réception de la notification { $id } confirmée. Merci.
ack-reviewed = Votre avis sur la décision { $determination } est enregistré ; elle est désormais { $status }. Merci.
ack-ack-failed = L’accusé de réception n’a pas pu être enregistré ; veuillez réessayer.
ack-review-failed = L’avis n’a pas pu être enregistré pour l’instant ; veuillez réessayer.
ack-unreadable = La notification n’a pas pu être lue ; veuillez réessayer.
ack-refused-title = Ce lien n’est pas valide
ack-refused = Ce lien d’accusé de réception n’est pas valide. Utilisez le lien de votre dernière notification.

## Page: what every HTML page shares (services/web).

page-site-name = tandem · OIM et HCR
page-skip = Aller au contenu
page-languages = Langue
page-footer = tandem : l’OIM et le HCR travaillent ensemble dans le cadre de leur Cadre d’engagement.
page-not-found = Page introuvable
page-not-found-text = Il n’y a pas de page à cette adresse.
page-back-home = Retour au tableau des situations

## Board: the public situation board (services/publish/src/board.rs).

board-title = Situations
board-intro = Qui dirige la réponse à chaque situation, et les chiffres que l’OIM et le HCR publient ensemble.
board-filters = Filtrer les situations
board-filter-country = Pays
board-filter-classification = Classification
board-filter-lead = Organisme chef de file
board-filter-any = Tous
board-filter-apply = Appliquer les filtres
board-shown = Situations affichées : { $shown } sur { $total }
board-none = Aucune situation ne correspond à ces filtres.
board-col-situation = Situation
board-col-country = Pays
board-col-classification = Classification
board-col-lead = Chef de file
board-col-people = Personnes
board-col-reported = Dernier rapport
board-pages = Pages
board-previous = Page précédente
board-next = Page suivante
board-page = Page { $page } sur { $pages }
board-total-partial = Le total exclut les groupes de 1 à 4 personnes, qui ne sont pas publiés.
board-downloads = Téléchargements
board-download-csv = Toutes les situations (CSV avec balises HXL)
board-download-json = Toutes les situations (JSON)
board-download-datapackage = Paquet de données (Frictionless)
board-download-series = Cette situation dans le temps (CSV)
board-download-situation = Cette situation (JSON)
board-download-history = Toutes les déterminations de cette situation (JSON)
board-starting-title = Démarrage
board-starting = Les données sont en cours de reconstruction. Réessayez dans un instant.
board-bad-request-title = Adresse non valide
board-bad-request = Cette adresse demande un filtre ou une valeur que le tableau ne connaît pas. Choisissez dans les listes du tableau.
board-leads = Qui dirige et pourquoi
board-classification = Classification
board-arrangement = Dispositif
board-lead-agencies = Organismes chefs de file
board-status = Statut
board-determined = Déterminé le
board-policy = Version de la politique
board-last-reported = Dernier rapport
board-functions = Fonctions
board-function = Fonction
board-agencies = Organismes
board-why = Pourquoi
board-basis = Fondement
board-figures = Chiffres
board-group = Groupe de population
board-people = Personnes
board-as-of = En date du
board-source = Source
board-total = Total
board-suppressed = 1 à 4 personnes (non publié)
board-figures-chart = Personnes par groupe au fil du temps
board-figures-chart-desc = Une ligne par groupe de population, du { $from } au { $to }. Les effectifs de 1 à 4 personnes sont exclus.
board-classification-chart = Classification au fil du temps
board-classification-chart-desc = Une bande par classification, du { $from } au { $to }.
board-chart-data = Les données du graphique sous forme de tableau
board-chart-capped = Seules les { $count } dernières déterminations sont tracées.
board-date = Date
board-reviews = Examens
board-no-reviews = Aucun organisme n’a encore examiné cette détermination.
board-review-agency = Organisme
board-review-verdict = Avis
board-review-at = Quand
board-review-comment = Commentaire
board-operations = Opérations par pays

## Board traces: each determination's link to its trace (TANDEM_TRACE_URL).
board-trace = Trace
board-trace-link = Trace de la détermination du { $date }

## Rationale: words the leadership policy's texts are filled with

agencies-and = et
agencies-none = aucun organisme
agencies-partner-organisation = l’organisation partenaire
rationale-policy-version = politique { $version }

## CLI: the tandem command line's rendering of determinations

cli-regional-place = régionale : { $countries }
cli-headline = { $situation } ({ $country }) : { $classification } — { $leads } { $leaders ->
        [one] dirige
       *[other] dirigent
    } ({ $arrangement })
cli-determination-first = détermination { $sequence } selon la politique { $policy } : première détermination
cli-determination-changed = détermination { $sequence } selon la politique { $policy } : modifiée (auparavant : { $previous })
cli-determination-unchanged = détermination { $sequence } selon la politique { $policy } : inchangée
cli-why = pourquoi : { $text } [{ $source }]
cli-regional-operations = situation régionale : { $count } opération(s) nationale(s)
cli-operation = opération { $country } : { $classification } — { $leads } { $leaders ->
        [one] dirige
       *[other] dirigent
    } ({ $arrangement }), part relevant de la protection { $share }{ $changed ->
        [yes] , modifiée
       *[no] {""}
    }
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

## CLI lists: `tandem notifications`, `tandem situation history` and `tandem policy` in the reader's
## language (ids, clause citations and file paths stay as they are).

cli-column-id = ID
cli-column-agency = ORGANISATION
cli-column-recipient = DESTINATAIRE
cli-column-kind = TYPE
cli-column-situation = SITUATION
cli-column-tier = NIVEAU
cli-column-state = ÉTAT
cli-column-acknowledge-by = ACCUSER RÉCEPTION AVANT
cli-notification-state = { $state ->
        [pending] en attente
        [acknowledged] reçu
        [escalated] transmis au niveau supérieur
       *[expired] expiré
    }
cli-ack-recorded = réception de { $notification } accusée
cli-ack-already = la réception de { $notification } avait déjà été accusée
cli-ack-already-by = la réception de { $notification } avait déjà été accusée le { $at } par { $by } (via { $via })
cli-ack-unknown = aucune notification { $notification }
cli-ack-not-recorded = accusé de réception de { $notification } envoyé ; aucune instance de notify ne l’a enregistré en { $seconds } s (elle le fera dès qu’une tournera)
cli-history-determination = { $determination } { $at } : { $classification } ({ $arrangement }), { $status }{ $changed ->
        [yes] {""}
       *[no] {" "}(résultat inchangé)
    }
cli-history-review = avis : { $agency } { $by } { $verdict } le { $at }{ $comment } -> { $status }
cli-history-notified = notifié : { $agency } { $recipient } ({ $kind }), { $acknowledged }
cli-history-acknowledged = réception accusée par { $by } le { $at } via { $via }
cli-history-not-acknowledged = réception non accusée
cli-policy-refused = { $file } est refusé :
cli-policy-valid = { $file } : la politique { $version } est valide
cli-policy-untranslated = attention : les textes des règles n’ont pas de version { $language } (`languages` ne mentionne pas "{ $code }") : ces lecteurs reçoivent les textes anglais
cli-policy-nothing-determined = aucune situation déterminée pour l’instant : rien ne changerait
cli-policy-unchanged = inchangée  { $situation }
cli-policy-changes = CHANGE     { $situation }
cli-policy-now = actuelle : { $headline }
cli-policy-would = serait :  { $headline }
cli-policy-summary = { $changed } situation(s) sur { $total } changerai(en)t avec la politique { $version }
cli-policy-unmatched-override = la dérogation pour { $situation } ({ $reference }) ne correspond à aucune situation
cli-policy-since-invalid = --since { $date } n’est pas une date de la forme AAAA-MM-JJ
cli-policy-replay-difference = après { $report } : { $current } déterminée, { $candidate } avec { $version }
cli-policy-replay-summary = { $differing } situation(s) sur { $total } aurai(en)t été classée(s) autrement avec la politique { $version }
cli-policy-applied = politique { $version } : { $situations } situation(s) réévaluée(s), { $changed } modifiée(s){ $list }
cli-policy-apply-failed = échec : { $failure }
cli-review-bad-agency = --agency doit valoir iom ou unhcr, et non { $agency }
cli-review-refused = refusé : { $reason }
cli-review-not-recorded = non enregistré : { $error }
