//! The pages' templates (Italian, no JavaScript; the stylesheet `static/procedo.css` is served
//! by the binary itself, so the pages work on a closed network). Values are HTML-escaped by handlebars; only the form, which
//! `procedo-forms` renders and escapes itself, is inserted raw.

pub const LAYOUT_HEAD: &str = r##"<!DOCTYPE html>
<html lang="it"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}} · {{authority}}</title>
<link rel="stylesheet" href="/static/procedo.css?v={{css_version}}">
</head><body>
<a class="skip" href="#main">Vai al contenuto</a>
<header class="it-header">
<div class="it-header-slim"><div class="wrap"><span>Procedo · servizi associati della pubblica amministrazione</span>
{{#if user}}<form method="post" action="/logout"><input type="hidden" name="_csrf" value="{{csrf}}"><button type="submit">Esci ({{user}})</button></form>{{/if}}</div></div>
<div class="it-header-center"><div class="wrap"><a class="it-brand" href="/"><span class="it-brand-name">{{authority}}</span><span class="it-brand-tagline">Procedimenti amministrativi</span></a></div></div>
{{#if user}}<nav class="it-header-nav" aria-label="Menu principale"><ul>
<li><a href="/"{{#if (eq section "attivita")}} aria-current="page"{{/if}}>Attività</a></li>
<li><a href="/pratiche"{{#if (eq section "pratiche")}} aria-current="page"{{/if}}>Pratiche</a></li>
<li><a href="/avvia"{{#if (eq section "avvia")}} aria-current="page"{{/if}}>Avvia</a></li>
<li><a href="/avvisi"{{#if (eq section "avvisi")}} aria-current="page"{{/if}}>Avvisi</a></li>
<li><a href="/workflows"{{#if (eq section "procedimenti")}} aria-current="page"{{/if}}>Procedimenti</a></li>
{{#if auditor}}<li><a href="/audit"{{#if (eq section "verifica")}} aria-current="page"{{/if}}>Verifica</a></li>{{/if}}
<li><a href="/password"{{#if (eq section "password")}} aria-current="page"{{/if}}>Password</a></li>
</ul></nav>{{/if}}
</header>
<main id="main" tabindex="-1">
{{#if crumbs}}<nav class="breadcrumb" aria-label="Percorso di navigazione"><ol>{{#each crumbs}}<li>{{#if href}}<a href="{{href}}">{{label}}</a>{{else}}<span aria-current="page">{{label}}</span>{{/if}}</li>{{/each}}</ol></nav>{{/if}}
"##;

/// The footer: the authority again and the accessibility statement AgID requires.
pub const LAYOUT_FOOT: &str = r#"</main>
<footer class="it-footer"><div class="wrap"><p class="it-footer-name">{{authority}}</p>
<ul><li><a href="/accessibilita">Dichiarazione di accessibilità</a></li></ul>
<p><small>Servizio erogato con Procedo.</small></p></div></footer>
</body></html>
"#;

/// The accessibility statement (AgID guidelines, art. 3-quater of law 4/2004): what the pages
/// conform to, how it was checked, and how to report a problem.
pub const ACCESSIBILITY: &str = r#"<h1>Dichiarazione di accessibilità</h1>
<p>{{authority}} si impegna a rendere accessibile questo servizio, conformemente alla legge 9 gennaio 2004, n. 4, e alle Linee guida AgID sull'accessibilità degli strumenti informatici.</p>
<h2>Stato di conformità</h2>
<p>Le pagine sono progettate per essere conformi ai requisiti della norma UNI CEI EN 301549 e alle WCAG 2.1 livello AA: funzionano senza JavaScript, con la sola tastiera e su schermi larghi da 360 pixel. Ogni pagina è verificata automaticamente con axe-core (criteri WCAG 2.1 A e AA) a 1366 e 390 pixel di larghezza.</p>
<h2>Contenuti non accessibili</h2>
<p>Gli atti emessi sono prodotti dai modelli dei procedimenti: la loro accessibilità dipende da chi redige il modello. I diagrammi degli stati sono accompagnati dall'elenco testuale degli stati e delle azioni.</p>
<h2>Feedback e recapiti</h2>
<p>Per segnalare un problema di accessibilità si rivolga al responsabile della transizione al digitale di {{authority}}. In caso di risposta insoddisfacente o mancata risposta entro trenta giorni può rivolgersi al Difensore civico per il digitale presso AgID.</p>"#;

pub const LOGIN: &str = r#"<h1>Accesso</h1>
{{#if info}}<p class="ok" role="status">{{info}}</p>{{/if}}
{{#if error}}<p class="ko" role="alert" id="login-error">{{error}}</p>{{/if}}
<h2>Con nome utente e password</h2>
<form method="post" action="/login">
<input type="hidden" name="_csrf" value="{{login_csrf}}">
<div class="procedo-field"><label for="user">Nome utente</label>
<input id="user" name="user" autocomplete="username" required value="{{user}}"{{#if error}} aria-describedby="login-error"{{/if}}></div>
<div class="procedo-field"><label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required></div>
<button type="submit" id="sign-in-password">Entra</button></form>
<h2>Con un token di accesso</h2>
<form method="post" action="/login">
<input type="hidden" name="_csrf" value="{{login_csrf}}">
<div class="procedo-field"><label for="token">Token</label>
<input id="token" name="token" type="password" autocomplete="off" required size="70"></div>
<button type="submit" id="sign-in-token">Entra con il token</button></form>"#;

pub const INBOX: &str = r#"<h1>Le mie attività</h1>
<form method="get" action="/" class="filters" aria-label="Filtri">
<div class="procedo-field"><label for="vista">Attività</label>
<select id="vista" name="vista"><option value="ruoli">dei miei ruoli</option><option value="assegnate"{{#if assigned}} selected{{/if}}>assegnate a me</option></select></div>
<div class="procedo-field"><label for="procedimento">Procedimento</label>
<select id="procedimento" name="procedimento"><option value="">tutti</option>{{#each workflows}}<option value="{{id}}"{{#if selected}} selected{{/if}}>{{title}}</option>{{/each}}</select></div>
<div class="procedo-field"><label for="ordina">Ordina per</label>
<select id="ordina" name="ordina"><option value="scadenza">scadenza</option><option value="arrivo"{{#if by_arrival}} selected{{/if}}>arrivo, più recenti prima</option></select></div>
<div class="procedo-field"><input type="checkbox" id="scadute" name="scadute" value="1"{{#if overdue}} checked{{/if}}> <label for="scadute" class="inline">solo scadute</label></div>
<button type="submit">Filtra</button></form>
{{#if tasks}}<p class="count" role="status" id="totale">{{first}}–{{last}} di {{total}} attività</p>
{{#if capped}}<p class="callout" role="alert">Sono mostrate le prime {{read_max}} attività per {{#if by_arrival}}arrivo{{else}}scadenza{{/if}}: restringa i filtri per vedere le altre.</p>{{/if}}
<div class="table-wrap"><table class="stack"><caption class="visually-hidden">Attività aperte</caption><thead><tr><th scope="col">Attività</th><th scope="col">Pratica</th><th scope="col">Ruolo</th><th scope="col">Arrivo</th><th scope="col">Scadenza</th></tr></thead><tbody>
{{#each tasks}}<tr><td data-label="Attività"><a href="/tasks/{{id}}">{{title}}</a></td><td data-label="Pratica"><a href="/instances/{{instance}}">{{#if summary}}{{summary}}{{else}}{{workflow}}{{/if}}</a>{{#if keys}}<span class="keys">{{keys}}</span>{{/if}}<span class="keys">{{workflow}}{{#if for_tenant}} · per conto di {{for_tenant}}{{/if}}</span></td><td data-label="Ruolo">{{role}}{{#if assignee}} ({{assignee}}){{/if}}</td><td data-label="Arrivo">{{arrived}}</td>
<td data-label="Scadenza">{{#if due}}<span class="{{#if overdue}}overdue{{/if}}">{{due}}{{#if overdue}} — scaduta{{/if}}</span>{{else}}—{{/if}}</td></tr>{{/each}}
</tbody></table></div>
<nav class="pager" aria-label="Pagine delle attività">{{#if prev}}<a href="/?{{{prev}}}" rel="prev">‹ Pagina precedente</a>{{/if}}<span>Pagina {{page}} di {{pages}}</span>{{#if next}}<a href="/?{{{next}}}" rel="next">Pagina successiva ›</a>{{/if}}</nav>
{{else}}<p>{{#if filtered}}Nessuna attività con questi filtri.{{else}}Nessuna attività aperta per i suoi ruoli.{{/if}}</p>{{/if}}"#;

pub const TASK: &str = r#"<h1>{{title}}</h1>
<p>Procedimento <a href="/instances/{{task.instance}}">{{workflow}}</a>{{#if for_tenant}} per conto di {{for_tenant}}{{/if}} · ruolo {{role_title}}{{#if due}} · scadenza <span class="{{#if overdue}}overdue{{/if}}">{{due}}</span>{{/if}}</p>
{{#if problem}}<p class="ko" role="alert">{{problem}}</p>{{/if}}
{{#if refusal}}<p class="ko" role="status">{{refusal}}</p>{{/if}}
{{#if deadline}}<section class="deadline" aria-labelledby="scadenza-titolo"><h2 id="scadenza-titolo">Scadenza</h2>
<p><strong>{{deadline.at}}</strong> — <span class="{{#if deadline.overdue}}overdue{{/if}}">{{deadline.left}}</span>{{#if deadline.basis}} · {{deadline.basis}}{{/if}}</p>
{{#if deadline.paused}}<p class="ko">Termine sospeso dal {{deadline.paused}}{{#if deadline.pause_reason}}: {{deadline.pause_reason}}{{/if}}.</p>{{/if}}
{{#if deadline.counted}}<p>Conteggio: {{deadline.counted.spec}} dal {{deadline.counted.base}}, in {{deadline.counted.rule}}{{#if deadline.counted.skipped}}; giorni non lavorativi considerati: {{deadline.counted.skipped}}{{/if}}; calendario {{deadline.counted.calendar}}.</p>{{/if}}
<p>Alla scadenza: {{deadline.at_expiry}}.{{#if deadline.reminders}} Promemoria {{deadline.reminders}} prima.{{/if}}</p></section>{{/if}}
<details class="case"{{#unless problem}}{{#unless view}} open{{/unless}}{{/unless}}><summary>Dati della pratica</summary>
{{#if case}}{{{case}}}{{else}}<p>Nessun dato.</p>{{/if}}
{{#if documents}}<p>Atti emessi:</p><ul>{{#each documents}}<li><a href="/documents/{{id}}">{{label}}</a> — {{issued}}</li>{{/each}}</ul>{{/if}}
{{#if files}}<p>File allegati:</p><ul class="files">{{#each files}}<li><a href="/files/{{id}}" download>{{name}}</a> — {{size}}, {{content_type}} — allegato da {{by}} il {{at}}</li>{{/each}}</ul>{{/if}}
</details>
{{#if may_act}}{{#if buttons}}<form method="post" action="/tasks/{{task.id}}" novalidate{{#if multipart}} enctype="multipart/form-data"{{/if}}>
<input type="hidden" name="_csrf" value="{{csrf}}">
{{#if view}}<input type="hidden" name="_vista" value="{{view}}">{{/if}}
{{#if has_lists}}<button type="submit" name="_ricarica" value="1" hidden>Aggiorna</button>{{/if}}
{{{form}}}
<p>{{#each buttons}}<button type="submit" name="_action" value="{{name}}">{{title}}</button>{{/each}}</p>
</form>{{/if}}
{{#if links}}<h2>Altre azioni</h2>
<p>Ognuna chiede i propri dati in una pagina a parte.</p>
<ul class="actions">{{#each links}}<li><a href="/tasks/{{../task.id}}?azione={{name}}">{{title}}</a></li>{{/each}}</ul>{{/if}}
{{#if view}}<p><a href="/tasks/{{task.id}}">Torna all'attività</a></p>{{/if}}{{/if}}
{{#if manage}}<section class="manage" aria-labelledby="gestione-titolo"><h2 id="gestione-titolo">Gestione dell'attività</h2>
<p>{{#if task.assignee}}Assegnata a <strong>{{task.assignee}}</strong>.{{else}}Non assegnata: la può svolgere chiunque abbia il ruolo «{{role_title}}».{{/if}}</p>
{{#if manage.claim}}<form method="post" action="/tasks/{{task.id}}/gestione"><input type="hidden" name="_csrf" value="{{csrf}}"><button type="submit" name="_op" value="claim">Prendi in carico</button></form>{{/if}}
{{#if manage.unclaim}}<form method="post" action="/tasks/{{task.id}}/gestione"><input type="hidden" name="_csrf" value="{{csrf}}"><button type="submit" name="_op" value="unclaim">Rilascia l'attività</button></form>{{/if}}
{{#if manage.pause}}<form method="post" action="/tasks/{{task.id}}/gestione" novalidate><input type="hidden" name="_csrf" value="{{csrf}}">
<div class="procedo-field"><label for="motivo-sospensione">Motivo della sospensione del termine</label><textarea id="motivo-sospensione" name="motivo" rows="2" maxlength="2000"></textarea></div>
<button type="submit" name="_op" value="pause">Sospendi il termine</button></form>{{/if}}
{{#if manage.resume}}<form method="post" action="/tasks/{{task.id}}/gestione"><input type="hidden" name="_csrf" value="{{csrf}}"><button type="submit" name="_op" value="resume">Riprendi il termine</button></form>{{/if}}
{{#if manage.reassign}}<form method="post" action="/tasks/{{task.id}}/gestione" novalidate><input type="hidden" name="_csrf" value="{{csrf}}">
<div class="procedo-field"><label for="ruolo-riassegna">Ruolo</label><select id="ruolo-riassegna" name="ruolo"><option value="">— invariato —</option>{{#each manage.roles}}<option value="{{this}}">{{this}}</option>{{/each}}</select></div>
<div class="procedo-field"><label for="funzionario-riassegna">Funzionario (nome utente, facoltativo)</label><input type="text" id="funzionario-riassegna" name="funzionario" maxlength="120"></div>
<div class="procedo-field"><label for="motivo-riassegna">Motivo della riassegnazione</label><textarea id="motivo-riassegna" name="motivo" rows="2" maxlength="2000"></textarea></div>
<button type="submit" name="_op" value="reassign">Riassegna</button></form>{{/if}}
</section>{{/if}}"#;

pub const INSTANCE: &str = r##"<h1>{{title}}</h1>
<dl class="facts">
<dt>Procedimento</dt><dd><a href="/workflows/{{instance.definition}}/{{instance.version}}">{{workflow}}</a> (versione {{instance.version}})</dd>
<dt>Ente</dt><dd>{{instance.tenant_name}}{{#if instance.on_behalf_of_name}} per conto di {{instance.on_behalf_of_name}}{{/if}}</dd>
{{#each keys}}<dt>{{label}}</dt><dd>{{value}}</dd>{{/each}}
<dt>Fase attuale</dt><dd><strong id="fase">{{instance.state}}</strong> — {{instance.status}}</dd>
<dt>Avviata il</dt><dd>{{started}}</dd>
{{#if parent}}<dt>Pratica principale</dt><dd><a href="/instances/{{parent}}">apri la pratica principale</a></dd>{{/if}}
</dl>
{{#if stalled}}<p class="alert" role="status">Un servizio di questa pratica non è riuscito e la pratica è ferma finché un amministratore non lo riprova: <a href="#servizi">vedi Servizi</a>.</p>{{/if}}
{{#if instance.active}}<h2>Attività aperte</h2>
{{#if open}}<ul>{{#each open}}<li><a href="/tasks/{{id}}">{{title}}</a> — ruolo {{role}}, {{#if assignee}}in carico a <strong>{{assignee}}</strong>{{else}}non ancora presa in carico{{/if}}{{#if due}}; scadenza <span class="{{#if overdue}}overdue{{/if}}">{{due}}{{#if overdue}} (scaduta){{/if}}</span>{{/if}}</li>{{/each}}</ul>{{else}}<p>Nessuna attività aperta: la pratica attende un termine, un servizio o le pratiche collegate.</p>{{/if}}{{/if}}
{{#if lots}}<h2>Pratiche collegate</h2><ul>{{#each lots}}<li><a href="/instances/{{id}}">{{title}}</a>{{#if keys}} ({{keys}}){{/if}} — {{state}}, {{status}}</li>{{/each}}</ul>{{/if}}
{{#if diagram}}<h2 id="diagramma">Dove si trova la pratica</h2>
<figure class="diagram">{{{diagram}}}<figcaption>Il riquadro con il bordo più spesso e la dicitura «stato attuale» è la fase in cui si trova la pratica; i riquadri e le frecce a tratto spesso sono il percorso seguito. <span id="percorso">Percorso seguito: {{path}}.</span></figcaption></figure>{{/if}}
<h2>Atti</h2>
{{#if documents}}<ul>{{#each documents}}<li><a href="/documents/{{id}}">{{label}}</a> — sha256 <code>{{sha256}}</code></li>{{/each}}</ul>{{else}}<p>Nessun atto emesso.</p>{{/if}}
{{#if services}}<h2 id="servizi">Servizi</h2>
<ul class="services">{{#each services}}<li>{{topic}} — <strong{{#if incident}} class="overdue"{{/if}}>{{status}}</strong> (tentativo {{attempts}} di {{tries}}, dal {{since}}){{#if message}}<br>Ultimo errore: {{message}}{{/if}}
{{#if retry}}<form method="post" action="/servizi/{{id}}/riprova"><input type="hidden" name="_csrf" value="{{../csrf}}"><button type="submit" id="riprova-{{id}}">Riprova il servizio</button></form>{{/if}}</li>{{/each}}</ul>{{/if}}
<h2>File allegati</h2>
{{#if files}}<ul class="files">{{#each files}}<li><a href="/files/{{id}}" download>{{name}}</a> — {{size}}, {{content_type}} — allegato da <strong>{{by}}</strong> il {{at}} — sha256 <code>{{sha256}}</code></li>{{/each}}</ul>{{else}}<p>Nessun file allegato.</p>{{/if}}
<p><a href="/instances/{{id}}/export" download>Scarica il fascicolo (cronologia, atti e impronte)</a></p>
<p><a class="button" href="/instances/{{id}}/case-file" download>Scarica il fascicolo completo (ZIP: atti, allegati, lotti, verificabile con <code>procedo case-file verify</code>)</a></p>
{{#if case}}<h2 id="dati">Dati della pratica</h2>
<div class="case">{{{case}}}</div>{{/if}}
<h2 id="cronologia">Cronologia</h2>
<ol class="timeline">{{#each events}}<li><strong>{{at}}</strong> — {{sentence}}{{#if body}} <span class="ente">({{body}})</span>{{/if}}
{{#if data}}<dl>{{#each data}}<dt>{{name}}</dt><dd>{{{value}}}</dd>{{/each}}</dl>{{/if}}
{{#each deadlines}}<p class="deadline">Scadenza dell'attività ({{role}}): <strong>{{at}}</strong> — {{spec}} dal {{base}}, contati in {{rule}}{{#if skipped}}; giorni festivi o non lavorativi considerati: {{skipped}}{{/if}}; calendario {{calendar}}</p>{{/each}}
{{#each relations}}<p class="relation">{{this}}</p>{{/each}}
{{#if effects}}<p><small>Effetti: {{effects}}</small></p>{{/if}}
<small>impronta <code>{{hash}}</code></small></li>{{/each}}</ol>"##;

pub const AUDIT: &str = r#"<h1>Verifica dell'integrità</h1>
{{#if report.ok}}<p class="ok">Verificato: {{report.instances}} procedimenti, {{report.events}} eventi e {{report.documents}} documenti sono integri.</p>
{{else}}<p class="ko" role="alert">Integrità compromessa.</p><ul>{{#each report.broken}}<li>Procedimento {{instance}}, evento {{seq}} (<code>{{row}}</code>): {{reason}}</li>{{/each}}
{{#each report.broken_documents}}<li>Documento {{id}}: {{reason}}</li>{{/each}}
{{#each report.problems}}<li><code>{{row}}</code>: {{reason}}</li>{{/each}}</ul>{{/if}}"#;

pub const WORKFLOWS: &str = r#"<h1>Procedimenti disponibili</h1>
<table><thead><tr><th scope="col">Procedimento</th><th scope="col">Versioni</th><th scope="col">Ultimo rilascio</th></tr></thead><tbody>
{{#each workflows}}<tr><td><a href="/workflows/{{id}}">{{title}}</a> <code>{{id}}</code></td><td><ul class="versions">{{#each versions}}<li><a href="/workflows/{{../id}}/{{n}}">v{{n}}</a> ({{whose}}{{#if current}}, in uso{{/if}}){{#if cases}}: <span class="cases">{{cases}}</span>{{/if}}</li>{{/each}}</ul></td><td>{{deployed}} ({{by}})</td></tr>{{/each}}
</tbody></table>
{{#if admin}}<h2>Valida o rilascia un pacchetto</h2>
<form method="post" action="/workflows/pacchetto" enctype="multipart/form-data">
<input type="hidden" name="_csrf" value="{{csrf}}">
<div class="procedo-field"><label for="files">Cartella del pacchetto (workflow.yaml, forms/, templates/)</label>
<input id="files" name="files" type="file" multiple webkitdirectory required></div>
<button type="submit" name="azione" value="valida">Valida</button> <button type="submit" name="azione" value="rilascia">Rilascia una nuova versione</button>
</form>{{/if}}"#;

pub const PASSWORD: &str = r#"<h1>Cambio password</h1>
{{#if error}}<p class="ko" role="alert" id="password-error">{{error}}</p>{{/if}}
<p>Dopo il cambio tutte le sue sessioni si chiudono: accederà di nuovo con la nuova password.</p>
<form method="post" action="/password">
<input type="hidden" name="_csrf" value="{{csrf}}">
<div class="procedo-field"><label for="current">Password attuale</label>
<input id="current" name="current" type="password" autocomplete="current-password" required></div>
<div class="procedo-field"><label for="new">Nuova password (almeno 12 caratteri)</label>
<input id="new" name="new" type="password" autocomplete="new-password" minlength="12" required></div>
<div class="procedo-field"><label for="confirm">Ripeta la nuova password</label>
<input id="confirm" name="confirm" type="password" autocomplete="new-password" minlength="12" required></div>
<button type="submit">Cambia password</button></form>"#;

pub const ERROR: &str = r#"<h1>{{title}}</h1>
<p class="ko" role="alert">{{message}}</p>
<p><a href="/">Torna alle attività</a></p>"#;

pub const PACKAGE: &str = r#"<h1>Pacchetto</h1>
<p class="{{#if ok}}ok{{else}}ko{{/if}}" role="status">{{note}}</p>
{{#if problems}}<ul>{{#each problems}}<li><code>{{this}}</code></li>{{/each}}</ul>{{/if}}
<p><a href="/workflows">Torna ai procedimenti</a></p>"#;

/// The review before a deploy: the files and their changed lines (signs and line numbers, not
/// colour alone, tell added from removed), then the confirmation.
pub const DEPLOY_CONFIRM: &str = r#"<h1>Conferma il rilascio</h1>
{{#if note}}<p class="ko" role="alert">{{note}}</p>{{/if}}
<p>Pacchetto «{{workflow}}» (<code>{{id}}</code>), {{states}} stati. {{#if running}}Confronto con la versione in uso, <a href="/workflows/{{id}}/{{running}}">v{{running}}</a>.{{else}}Nessuna versione in uso: è un nuovo procedimento.{{/if}}</p>
<h2>File del pacchetto</h2>
<table><thead><tr><th scope="col">File</th><th scope="col">Modifica</th></tr></thead><tbody>
{{#each files}}<tr><td><code>{{path}}</code></td><td>{{summary}}</td></tr>{{/each}}
</tbody></table>
{{#if identical}}<p class="ok" role="status" id="identico">Il pacchetto è identico alla versione in uso v{{running}}: non c'è nulla da rilasciare.</p>
{{else}}<h2>Differenze</h2>
<p>Righe tolte precedute da «−», righe aggiunte da «+»; i numeri sono quelli della riga nella versione in uso e nel pacchetto; «…» indica righe invariate omesse.</p>
{{#each files}}{{#if lines}}<h3><code>{{path}}</code> ({{change}})</h3>
<pre class="diff">{{#each lines}}{{#if (eq kind "gap")}}<span class="gap">…</span>
{{else}}{{#if (eq kind "add")}}<ins><span class="n">{{old}}</span><span class="n">{{new}}</span>{{sign}} {{text}}</ins>
{{else}}{{#if (eq kind "del")}}<del><span class="n">{{old}}</span><span class="n">{{new}}</span>{{sign}} {{text}}</del>
{{else}}<span><span class="n">{{old}}</span><span class="n">{{new}}</span>{{sign}} {{text}}</span>
{{/if}}{{/if}}{{/if}}{{/each}}</pre>{{/if}}{{/each}}
<form method="post" action="/workflows/pacchetto/conferma">
<input type="hidden" name="_csrf" value="{{csrf}}">
<input type="hidden" name="pacchetto" value="{{package}}">
<input type="hidden" name="origine" value="{{origin}}">
<input type="hidden" name="impronta" value="{{sha256}}">
<input type="hidden" name="contro" value="{{running}}">
<button type="submit" id="conferma-rilascio">Conferma: rilascia la nuova versione</button>
</form>{{/if}}
<p><a href="/workflows">Annulla e torna ai procedimenti</a></p>"#;

pub const WORKFLOW: &str = r#"<h1>{{title}} <small>v{{version}}</small></h1>
<p><code>{{id}}</code> · stato iniziale «{{initial}}» · {{states}} stati</p>
<figure>{{{svg}}}<figcaption>Diagramma degli stati (passare sopra un riquadro per il nome dello stato)</figcaption></figure>
<details><summary>Sorgente Mermaid</summary><pre>{{mermaid}}</pre></details>"#;

pub const START: &str = r#"<h1>Avvia un procedimento</h1>
{{#if workflows}}<ul class="start-list">{{#each workflows}}<li><h2><a href="/avvia/{{id}}">{{title}}</a></h2>{{#if description}}<p>{{description}}</p>{{/if}}</li>{{/each}}</ul>
{{else}}<p>I suoi ruoli non consentono di avviare alcun procedimento.</p>{{/if}}"#;

pub const START_FORM: &str = r#"<h1>{{workflow}}</h1>
{{#if problem}}<p class="ko" role="alert">{{problem}}</p>{{/if}}
<form method="post" action="/avvia/{{id}}" novalidate>
<input type="hidden" name="_csrf" value="{{csrf}}">
{{#if has_lists}}<button type="submit" name="_ricarica" value="1" hidden>Aggiorna</button>{{/if}}
{{#if clients}}<div class="procedo-field"><label for="per-conto-di">Per conto di</label>
<select id="per-conto-di" name="_per_conto_di"><option value="">{{own}} (in proprio)</option>{{#each clients}}<option value="{{id}}"{{#if selected}} selected{{/if}}>{{name}}</option>{{/each}}</select></div>{{/if}}
{{{form}}}
<p><button type="submit" id="avvia">Avvia il procedimento</button></p>
</form>"#;

pub const CASES: &str = r#"<h1>Pratiche</h1>
<form method="get" action="/pratiche" class="filters" aria-label="Ricerca delle pratiche">
<div class="procedo-field"><label for="chiave">CIG, ente o altro codice</label><input id="chiave" name="chiave" value="{{q.chiave}}" maxlength="200"></div>
<div class="procedo-field"><label for="cerca">Parole nei dati (oggetto…)</label><input id="cerca" name="cerca" value="{{q.cerca}}" maxlength="200"></div>
<div class="procedo-field"><label for="procedimento">Procedimento</label>
<select id="procedimento" name="procedimento"><option value="">tutti</option>{{#each workflows}}<option value="{{id}}"{{#if selected}} selected{{/if}}>{{title}}</option>{{/each}}</select></div>
{{#if states}}<div class="procedo-field"><label for="stato">Fase</label>
<select id="stato" name="stato"><option value="">tutte</option>{{#each states}}<option value="{{id}}"{{#if selected}} selected{{/if}}>{{title}}</option>{{/each}}</select></div>{{/if}}
<div class="procedo-field"><label for="esito">Stato</label>
<select id="esito" name="esito"><option value="">tutte</option><option value="attive"{{#if (eq q.esito "attive")}} selected{{/if}}>in corso</option><option value="concluse"{{#if (eq q.esito "concluse")}} selected{{/if}}>concluse</option><option value="annullate"{{#if (eq q.esito "annullate")}} selected{{/if}}>annullate</option></select></div>
<div class="procedo-field"><label for="dal">Avviate dal</label><input id="dal" name="dal" type="date" value="{{q.dal}}"></div>
<div class="procedo-field"><label for="al">al</label><input id="al" name="al" type="date" value="{{q.al}}"></div>
<div class="procedo-field"><label for="ordina">Ordina per</label>
<select id="ordina" name="ordina"><option value="recenti">avvio, più recenti prima</option><option value="meno-recenti"{{#if (eq q.ordina "meno-recenti")}} selected{{/if}}>avvio, meno recenti prima</option><option value="aggiornate"{{#if (eq q.ordina "aggiornate")}} selected{{/if}}>ultimo aggiornamento</option></select></div>
<button type="submit" id="cerca-pratiche">Cerca</button></form>
<p class="count" role="status" id="totale">{{#if total}}{{first}}–{{last}} di {{total}} pratiche{{else}}Nessuna pratica con questi filtri.{{/if}}</p>
{{#if rows}}<div class="table-wrap"><table class="stack"><caption class="visually-hidden">Pratiche trovate</caption><thead><tr><th scope="col">Pratica</th><th scope="col">Procedimento</th><th scope="col">Ente</th><th scope="col">Fase</th><th scope="col">Avviata</th></tr></thead><tbody>
{{#each rows}}<tr><td data-label="Pratica"><a href="/instances/{{id}}">{{#if summary}}{{summary}}{{else}}{{workflow}}{{/if}}</a>{{#if keys}}<span class="keys">{{keys}}</span>{{/if}}</td><td data-label="Procedimento">{{workflow}}</td><td data-label="Ente">{{tenant}}</td><td data-label="Fase">{{state}} <span class="keys">{{status}}</span></td><td data-label="Avviata">{{started}}</td></tr>{{/each}}
</tbody></table></div>
<nav class="pager" aria-label="Pagine dei risultati">{{#if prev}}<a href="/pratiche?{{{prev}}}" rel="prev">‹ Pagina precedente</a>{{/if}}<span>Pagina {{page}} di {{pages}}</span>{{#if next}}<a href="/pratiche?{{{next}}}" rel="next">Pagina successiva ›</a>{{/if}}</nav>
<p>{{#if csv_too_many}}L'esportazione comprende al massimo {{csv_max}} pratiche: restringa i filtri per esportarle tutte. {{/if}}<a href="/pratiche.csv?{{{csv}}}" download>Esporta il risultato in CSV</a></p>{{/if}}"#;

pub const NOTICES: &str = r#"<h1>Avvisi</h1>
<p>Gli stessi avvisi che riceve per posta elettronica, se ha un indirizzo: i più recenti per primi.</p>
{{#if notices}}<ul class="notices">{{#each notices}}<li><strong>{{kind}}</strong>: <a href="{{href}}">{{title}}</a> — {{at}}</li>{{/each}}</ul>{{else}}<p>Nessun avviso.</p>{{/if}}"#;
