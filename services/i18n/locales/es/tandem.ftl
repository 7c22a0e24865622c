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

## Notification: the summary every notification carries (`Notification.summary`), in the
## recipient's language.

summary-escalation = ESCALAMIENTO (nivel { $tier }): no se acusó recibo de la notificación { $notification } a tiempo.
summary-discrepancy = Las cifras de la OIM y del ACNUR no coinciden para la situación { $situation } en { $country }:
summary-discrepancy-line = { $group }: OIM { $iom } frente a ACNUR { $unhcr } (diferencia del { $percent } %)
summary-discrepancy-ask = Concilie las cifras con su contraparte (datos, FoE B.3).
summary-contested = { $agency } ({ $by }) impugna la determinación { $determination } de la situación { $situation } en { $country }: { $classification } coordinada según el modelo «{ $arrangement }», bajo el liderazgo de { $leads }.
summary-contest-reason = Motivo: { $reason }
summary-contest-stands = Sigue vigente mientras las agencias lo resuelven; pasa a ambas sedes si sigue impugnada al vencer el plazo.
summary-determined = La situación { $situation } en { $country } se clasifica ahora como { $classification }, coordinada según el modelo «{ $arrangement }», bajo el liderazgo de { $leads }.
summary-determined-operation = La operación { $country } de la situación regional { $situation } se clasifica ahora como { $classification }, coordinada según el modelo «{ $arrangement }», bajo el liderazgo de { $leads }.
summary-agency-partners = { $agency } participa como socio en esta respuesta.
summary-agency-co-leads = { $agency } codirige esta respuesta.
summary-agency-leads = { $agency } dirige esta respuesta.
summary-functions = Funciones:
summary-why = Motivos:
summary-determination = Determinación { $determination }
summary-trace = traza { $trace }
summary-nobody = nadie por ahora
summary-an-agency = una agencia
summary-your-agency = su agencia

## Email: the e-mail of a notification, subject and body.

email-subject = { $situation } { $kind } — acuse recibo, por favor
email-subject-escalation = ESCALAMIENTO: { $situation } { $kind } — acuse recibo, por favor
email-acknowledge-by = Acuse recibo antes del { $deadline }; de lo contrario, pasará al nivel superior:
email-open-inbox = Abra su bandeja de entrada: { $url }
email-inbox-link = Abrir su bandeja de entrada
email-or-command = o ejecute
email-or-nats = o publique cualquier mensaje en { $subject }
email-or-link = o acuse recibo con un clic: { $url }
email-trace = Traza de la determinación: { $url }
email-acknowledge = Acusar recibo con un clic
email-trace-link = Traza de la determinación

## Inbox: the coordinator's inbox page (`/inbox`).

inbox-title = Sus notificaciones
inbox-heading = Notificaciones pendientes para { $name }
inbox-intro = Las notificaciones que esperan su acuse de recibo, de la más antigua a la más reciente. Abrir esta página no cambia nada; los botones sí.
inbox-more = Hay { $count } más pendientes; estas son las más antiguas.
inbox-empty = No tiene nada pendiente.
inbox-times = Las horas se muestran en la zona { $tz }.
inbox-refused-title = Este enlace no es válido
inbox-refused = Este enlace a la bandeja de entrada no es válido, ha caducado o no es suyo. Use el enlace de su notificación más reciente.
inbox-unavailable = No se puede leer la bandeja de entrada en este momento; inténtelo de nuevo en unos instantes.
inbox-notification = { $kind }: situación { $situation } en { $country }
inbox-escalation = Escalamiento, nivel { $tier }: el destinatario anterior no acusó recibo a tiempo.
inbox-deadline = Acuse recibo antes del { $deadline }
inbox-situation = La situación actual
inbox-classification = Clasificación
inbox-arrangement = Modelo de coordinación
inbox-leads = Bajo el liderazgo de
inbox-status = Estado
inbox-functions = Quién lidera cada función
inbox-function = Función
inbox-why = Motivos
inbox-figures = Cifras
inbox-group = Grupo
inbox-people = Personas
inbox-source = Informado por
inbox-as-of = Fecha de los datos
inbox-reviews = Revisiones
inbox-no-reviews = Todavía no hay revisiones.
inbox-review = { $agency } ({ $by }): { $verdict } el { $at }
inbox-history = Historial
inbox-history-determined = { $at }: se emitió la determinación { $determination }
inbox-history-previous = Antes, la situación se clasificaba como { $classification }.
inbox-history-notified = { $at }: se le notificó
inbox-no-determination = No se puede leer la determinación actual de la situación en este momento.
inbox-superseded = Una determinación más reciente, { $determination }, sustituyó a la que se le notificó; es la que se muestra aquí.
inbox-actions = ¿Qué decide?
inbox-acknowledge = Acusar recibo
inbox-endorse = Respaldar
inbox-contest = Impugnar
inbox-contest-reason = Motivo de la impugnación (obligatorio; sin nombres, números de teléfono ni direcciones de correo)
inbox-trace = Traza de esta determinación
inbox-done-acknowledged = Acuse de recibo registrado. Gracias.
inbox-done-reviewed = Su revisión quedó registrada. Gracias.
inbox-failed = No se registró nada; inténtelo de nuevo.
inbox-review-refused = Su revisión no se registró: puede que la determinación haya cambiado o que esta situación no le corresponda.
inbox-needs-reason = Una impugnación necesita un motivo.
inbox-reason-too-long = El motivo puede tener como máximo { $max } caracteres.
inbox-personal-data = El motivo parece contener datos personales (un nombre, un número de teléfono o una dirección de correo); elimínelos.

## Ack: the page of the acknowledgement link in every notification (`/ack/<id>`).

ack-title = Acusar recibo de una notificación
ack-intro = Abrir esta página no cambia nada; solo los botones actúan.
ack-review = O revise la determinación { $determination } para { $agency }:
ack-acknowledged = Recibo de la notificación { $id } confirmado. Gracias.
ack-reviewed = Su revisión de la determinación { $determination } quedó registrada; ahora está { $status }. Gracias.
ack-ack-failed = No se pudo registrar el acuse de recibo; inténtelo de nuevo.
ack-review-failed = No se pudo registrar la revisión ahora; inténtelo de nuevo.
ack-unreadable = No se pudo leer la notificación; inténtelo de nuevo.
ack-refused-title = Este enlace no es válido
ack-refused = Este enlace de acuse de recibo no es válido. Use el enlace de su notificación más reciente.

## Page: what every HTML page shares (services/web).

page-site-name = tandem · OIM y ACNUR
page-skip = Ir al contenido
page-languages = Idioma
page-footer = tandem: la OIM y el ACNUR trabajan juntos en el marco de su Marco de Colaboración.
page-not-found = Página no encontrada
page-not-found-text = No hay ninguna página en esta dirección.
page-back-home = Volver al tablero de situaciones

## Board: the public situation board (services/publish/src/board.rs).

board-title = Situaciones
board-intro = Quién dirige la respuesta a cada situación, y las cifras que la OIM y el ACNUR publican juntos.
board-filters = Filtrar las situaciones
board-filter-country = País
board-filter-classification = Clasificación
board-filter-lead = Organismo líder
board-filter-any = Todos
board-filter-apply = Aplicar filtros
board-shown = Situaciones mostradas: { $shown } de { $total }
board-none = Ninguna situación coincide con estos filtros.
board-col-situation = Situación
board-col-country = País
board-col-classification = Clasificación
board-col-lead = Líder
board-col-people = Personas
board-col-reported = Último informe
board-pages = Páginas
board-previous = Página anterior
board-next = Página siguiente
board-page = Página { $page } de { $pages }
board-total-partial = El total excluye los grupos de 1 a 4 personas, que no se publican.
board-downloads = Descargas
board-download-csv = Todas las situaciones (CSV con etiquetas HXL)
board-download-json = Todas las situaciones (JSON)
board-download-datapackage = Paquete de datos (Frictionless)
board-download-series = Esta situación a lo largo del tiempo (CSV)
board-download-situation = Esta situación (JSON)
board-download-history = Todas las determinaciones de esta situación (JSON)
board-starting-title = Iniciando
board-starting = Los datos se están reconstruyendo. Vuelva a intentarlo en un momento.
board-bad-request-title = Dirección no válida
board-bad-request = Esta dirección pide un filtro o un valor que el tablero no conoce. Elija de las listas del tablero.
board-leads = Quién dirige y por qué
board-classification = Clasificación
board-arrangement = Modalidad
board-lead-agencies = Organismos líderes
board-status = Estado
board-determined = Determinado el
board-policy = Versión de la política
board-last-reported = Último informe
board-functions = Funciones
board-function = Función
board-agencies = Organismos
board-why = Por qué
board-basis = Fundamento
board-figures = Cifras
board-group = Grupo de población
board-people = Personas
board-as-of = Con fecha de
board-source = Fuente
board-total = Total
board-suppressed = 1 a 4 personas (no se publica)
board-figures-chart = Personas por grupo a lo largo del tiempo
board-figures-chart-desc = Una línea por grupo de población, del { $from } al { $to }. Se excluyen los recuentos de 1 a 4 personas.
board-classification-chart = Clasificación a lo largo del tiempo
board-classification-chart-desc = Una banda por clasificación, del { $from } al { $to }.
board-chart-data = Los datos del gráfico en forma de tabla
board-chart-capped = Solo se trazan las últimas { $count } determinaciones.
board-date = Fecha
board-reviews = Revisiones
board-no-reviews = Ningún organismo ha revisado aún esta determinación.
board-review-agency = Organismo
board-review-verdict = Veredicto
board-review-at = Cuándo
board-review-comment = Comentario
board-operations = Operaciones por país

## Board traces: each determination's link to its trace (TANDEM_TRACE_URL).
board-trace = Traza
board-trace-link = Traza de la determinación del { $date }

## Rationale: words the leadership policy's texts are filled with

agencies-and = y
agencies-none = ningún organismo
agencies-partner-organisation = la organización asociada
rationale-policy-version = política { $version }

## CLI: the tandem command line's rendering of determinations

cli-regional-place = regional: { $countries }
cli-headline = { $situation } ({ $country }): { $classification } — { $leads } { $leaders ->
        [one] dirige
       *[other] dirigen
    } ({ $arrangement })
cli-determination-first = determinación { $sequence } según la política { $policy }: primera determinación
cli-determination-changed = determinación { $sequence } según la política { $policy }: cambió (antes: { $previous })
cli-determination-unchanged = determinación { $sequence } según la política { $policy }: sin cambios
cli-why = por qué: { $text } [{ $source }]
cli-regional-operations = situación regional: { $count } operación(es) nacional(es)
cli-operation = operación { $country }: { $classification } — { $leads } { $leaders ->
        [one] dirige
       *[other] dirigen
    } ({ $arrangement }), proporción de protección { $share }{ $changed ->
        [yes] , modificada
       *[no] {""}
    }
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

## CLI lists: `tandem notifications`, `tandem situation history` and `tandem policy` in the reader's
## language (ids, clause citations and file paths stay as they are).

cli-column-id = ID
cli-column-agency = ORGANISMO
cli-column-recipient = DESTINATARIO
cli-column-kind = TIPO
cli-column-situation = SITUACIÓN
cli-column-tier = NIVEL
cli-column-state = ESTADO
cli-column-acknowledge-by = CONFIRMAR ANTES DE
cli-notification-state = { $state ->
        [pending] pendiente
        [acknowledged] confirmada
        [escalated] escalada
       *[expired] vencida
    }
cli-ack-recorded = recepción de { $notification } confirmada
cli-ack-already = la recepción de { $notification } ya estaba confirmada
cli-ack-already-by = la recepción de { $notification } ya estaba confirmada el { $at } por { $by } (vía { $via })
cli-ack-unknown = no hay ninguna notificación { $notification }
cli-ack-not-recorded = confirmación de { $notification } enviada; ninguna instancia de notify la registró en { $seconds } s (lo hará cuando una se ejecute)
cli-history-determination = { $determination } { $at }: { $classification } ({ $arrangement }), { $status }{ $changed ->
        [yes] {""}
       *[no] {" "}(resultado sin cambios)
    }
cli-history-review = revisión: { $agency } { $by } { $verdict } el { $at }{ $comment } -> { $status }
cli-history-notified = notificado: { $agency } { $recipient } ({ $kind }), { $acknowledged }
cli-history-acknowledged = recepción confirmada por { $by } el { $at } vía { $via }
cli-history-not-acknowledged = recepción no confirmada
cli-policy-refused = { $file } se rechaza:
cli-policy-valid = { $file }: la política { $version } es válida
cli-policy-untranslated = aviso: los textos de las reglas no tienen versión en { $language } (`languages` no incluye "{ $code }"): esos lectores reciben los textos en inglés
cli-policy-nothing-determined = todavía no hay situaciones determinadas: nada cambiaría
cli-policy-unchanged = sin cambios  { $situation }
cli-policy-changes = CAMBIA        { $situation }
cli-policy-now = ahora:     { $headline }
cli-policy-would = cambiaría: { $headline }
cli-policy-summary = { $changed } de { $total } situación(es) cambiaría(n) con la política { $version }
cli-policy-unmatched-override = la excepción para { $situation } ({ $reference }) no corresponde a ninguna situación
cli-policy-since-invalid = --since { $date } no es una fecha con el formato AAAA-MM-DD
cli-policy-replay-difference = tras { $report }: { $current } determinada, { $candidate } con { $version }
cli-policy-replay-summary = { $differing } de { $total } situación(es) se habría(n) clasificado de otro modo con la política { $version }
cli-policy-applied = política { $version }: { $situations } situación(es) reevaluada(s), { $changed } modificada(s){ $list }
cli-policy-apply-failed = error: { $failure }
cli-review-bad-agency = --agency debe ser iom o unhcr, no { $agency }
cli-review-refused = rechazado: { $reason }
cli-review-not-recorded = no registrado: { $error }
