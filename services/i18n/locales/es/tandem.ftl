# Los textos de tandem en español. Los mismos mensajes y parámetros que en/.

## Common

language-name = Español
situation-title = Situación { $situation }

## Words: the contract's enum values, one message per value, its id the value's proto
## name in lower case with hyphens (CLASSIFICATION_MIXED_MOVEMENT: classification-mixed-movement).

classification-unspecified = situación sin clasificar
classification-refugee-situation = situación de refugiados
classification-migrant-situation = situación de migrantes
classification-mixed-movement = movimiento mixto
classification-respective-mandates = situación bajo los mandatos respectivos
classification-idp-situation = situación de desplazamiento interno
classification-idp-durable-solutions = situación de soluciones duraderas para personas desplazadas internas
classification-pending-joint-assessment = situación pendiente de evaluación conjunta
arrangement-unspecified = ningún mecanismo
arrangement-refugee-coordination-model = modelo de coordinación para refugiados
arrangement-iom-led-response = respuesta liderada por la OIM
arrangement-joint-platform = plataforma conjunta
arrangement-respective-mandates = mandatos respectivos
arrangement-cluster-system = sistema de clústeres del IASC
arrangement-joint-solutions-support = apoyo conjunto a soluciones duraderas
arrangement-joint-assessment = evaluación conjunta
arrangement-designated = liderazgo designado
agency-unspecified = organismo no especificado
agency-iom = OIM
agency-unhcr = ACNUR
agency-partner = socio
leadership-function-unspecified = función no especificada
leadership-function-strategic-planning = planificación estratégica
leadership-function-engagement-with-states = relación con los Estados
leadership-function-data-management = gestión de datos
leadership-function-resource-mobilization = movilización de recursos
leadership-function-inclusive-coordination = coordinación inclusiva
leadership-function-protection-cluster = clúster de Protección
leadership-function-cccm-cluster = clúster de CCCM
population-group-unspecified = personas de un grupo no especificado
population-group-refugee = refugiados
population-group-asylum-seeker = solicitantes de asilo
population-group-other-in-need-of-protection = otras personas con necesidad de protección internacional
population-group-stateless = personas apátridas
population-group-migrant = migrantes
population-group-idp = personas desplazadas internas
population-group-returned-refugee = refugiados retornados
population-group-returned-idp = personas desplazadas internas retornadas
population-group-host-community = miembros de la comunidad de acogida
population-group-undetermined = refugiados y migrantes cuyo estatus no está determinado
driver-unspecified = no especificado
driver-conflict = conflicto
driver-disaster = desastre
driver-economic = económico
driver-mixed = mixto
scope-unspecified = no especificado
scope-cross-border = transfronterizo
scope-internal = interno
phase-unspecified = no especificada
phase-emergency = emergencia
phase-protracted = prolongada
phase-solutions = soluciones
determination-status-unspecified = no revisada
determination-status-provisional = provisional
determination-status-agreed = acordada por la OIM y el ACNUR
determination-status-contested = impugnada
review-verdict-unspecified = sin dictamen
review-verdict-endorse = respaldada
review-verdict-contest = impugnada
durable-solutions-criterion-unspecified = criterio no especificado
durable-solutions-criterion-safety-and-security = seguridad y protección
durable-solutions-criterion-standard-of-living = nivel de vida adecuado
durable-solutions-criterion-livelihoods = acceso a medios de vida
durable-solutions-criterion-housing-land-and-property = vivienda, tierra y propiedad
durable-solutions-criterion-documentation = documentación
durable-solutions-criterion-family-reunification = reunificación familiar
durable-solutions-criterion-participation = participación en los asuntos públicos
durable-solutions-criterion-remedies-and-justice = acceso a recursos efectivos y a la justicia
role-unspecified = función no especificada
role-country-coordinator = coordinación nacional
role-data-focal-point = punto focal de datos
role-regional-coordinator = coordinación regional
role-hq = sede
notification-kind-unspecified = notificación
notification-kind-determination-changed = cambio de liderazgo
notification-kind-discrepancy = cifras discrepantes
notification-kind-contested = determinación impugnada

## Rationale: words the leadership policy's texts are filled with

agencies-and = y
agencies-none = ningún organismo
agencies-partner-organisation = la organización asociada
rationale-policy-version = política { $version }

## CLI: the tandem command line's rendering of determinations

cli-headline = { $situation } ({ $country }): { $classification } — { $leads } { $leaders ->
        [one] dirige
       *[other] dirigen
    } ({ $arrangement })
cli-determination-first = determinación { $sequence } según la política { $policy }: primera determinación
cli-determination-changed = determinación { $sequence } según la política { $policy }: cambió (antes: { $previous })
cli-determination-unchanged = determinación { $sequence } según la política { $policy }: sin cambios
cli-why = por qué: { $text } [{ $source }]
cli-determined = determinación { $headline } (n.º { $sequence }, { $change ->
        [changed] cambió
       *[unchanged] sin cambios
    })
cli-event-report = informe    { $report } rev. { $revision } de { $situation } de { $organisation }
cli-event-undecodable = informe    ({ $bytes } bytes ilegibles en { $subject })
cli-event-accepted = aceptado   { $report } rev. { $revision } de { $situation } en { $country } de { $organisation }
cli-event-rejected = rechazado  { $report } de { $situation } de { $organisation }: { $reasons } motivo(s)
cli-event-notified = notificado { $recipient } ({ $agency }, { $role }) sobre { $situation }: { $kind } — { $agency } { $position ->
        [leads] lidera
       *[partners] es socio
    }
cli-event-escalation = (escalamiento, nivel { $tier })
cli-event-status = estado     { $notification } { $state }
cli-event-dataset = datos      { $dataset } versión { $version }: { $rows } filas, sha256 { $sha256 }
cli-event-dead-letter = MENSAJE FALLIDO { $service }: mensaje en { $subject } tras { $deliveries } entregas: { $error }
cli-event-other = evento     { $subject } ({ $bytes } bytes)
cli-trace = traza { $trace }
cli-no-trace = sin traza (su evento no está en { $stream } o no lleva contexto de traza)
cli-no-determination = no hay determinación para la situación { $situation }
cli-review-recorded = registrado: { $agency } ({ $by }) { $verdict ->
        [contest] impugnó
       *[endorse] respaldó
    } la determinación { $determination }; ahora está: { $status }
