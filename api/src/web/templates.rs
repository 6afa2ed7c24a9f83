//! The pages' templates (Italian, no JavaScript, styles served inline so the pages work on a
//! closed network). Values are HTML-escaped by handlebars; only the form, which
//! `procedo-forms` renders and escapes itself, is inserted raw.

pub const LAYOUT_HEAD: &str = r##"<!DOCTYPE html>
<html lang="it"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}} · Procedo</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;color:#1a1a1a;background:#fff;line-height:1.5}
header{background:#003366;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1.5rem;align-items:center}
header a{color:#fff}header nav{display:flex;gap:1.5rem}header form{margin-left:auto}
.skip{position:absolute;left:-999px;top:0;background:#fff;color:#0047a3;padding:.5rem}.skip:focus{left:.5rem;z-index:1}
main{max-width:60rem;margin:1rem auto;padding:0 1rem}
a{color:#0047a3}a:focus,button:focus,input:focus,select:focus,textarea:focus{outline:3px solid #f5a200;outline-offset:2px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;border-bottom:1px solid #ccc;padding:.4rem}
.overdue{color:#a00000;font-weight:bold}.ok{color:#00662e;font-weight:bold}.ko{color:#a00000;font-weight:bold}
button{font:inherit;background:#0047a3;color:#fff;border:0;padding:.5rem 1rem;margin:.3rem .3rem 0 0;cursor:pointer}
figure{margin:1rem 0}figure svg{max-width:100%;height:auto}
.procedo-field{margin:.8rem 0}.procedo-field label{display:block;font-weight:600}.procedo-field label.inline{display:inline}
.filters{display:flex;flex-wrap:wrap;gap:0 1.5rem;align-items:end;background:#f2f5f9;padding:0 1rem .6rem;margin-bottom:1rem}
.procedo-error,.procedo-errors{color:#a00000}input,select,textarea{font:inherit;padding:.3rem;max-width:100%}
code{font-size:.85em;word-break:break-all}
.case{background:#f2f5f9;padding:.4rem 1rem;margin:1rem 0}.case summary{font-weight:600;cursor:pointer}
.case dl{display:grid;grid-template-columns:max-content auto;gap:0 1rem}.case dt{font-weight:600}.case dd{margin:0}
.timeline li{margin-bottom:.8rem}.timeline dl{display:grid;grid-template-columns:max-content auto;gap:0 1rem;margin:.3rem 0}.timeline dt{font-weight:600}.timeline dd{margin:0}
</style></head><body>
<a class="skip" href="#main">Vai al contenuto</a>
<header><strong>Procedo</strong>{{#if user}}<nav aria-label="Menu principale"><a href="/">Attività</a><a href="/workflows">Procedimenti</a><a href="/audit">Verifica</a><a href="/password">Password</a></nav>
<form method="post" action="/logout"><input type="hidden" name="_csrf" value="{{csrf}}"><button type="submit">Esci ({{user}})</button></form>{{/if}}</header>
<main id="main" tabindex="-1">
"##;

pub const LAYOUT_TAIL: &str = "</main></body></html>\n";

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
<div class="procedo-field"><input type="checkbox" id="scadute" name="scadute" value="1"{{#if overdue}} checked{{/if}}> <label for="scadute" class="inline">solo scadute</label></div>
<button type="submit">Filtra</button></form>
{{#if tasks}}<table><thead><tr><th scope="col">Attività</th><th scope="col">Procedimento</th><th scope="col">Ruolo</th><th scope="col">Scadenza</th></tr></thead><tbody>
{{#each tasks}}<tr><td><a href="/tasks/{{id}}">{{title}}</a></td><td><a href="/instances/{{instance}}">{{workflow}}</a></td><td>{{role}}{{#if assignee}} ({{assignee}}){{/if}}</td>
<td>{{#if due}}<span class="{{#if overdue}}overdue{{/if}}">{{due}}{{#if overdue}} — scaduta{{/if}}</span>{{else}}—{{/if}}</td></tr>{{/each}}
</tbody></table>{{else}}<p>{{#if filtered}}Nessuna attività con questi filtri.{{else}}Nessuna attività aperta per i suoi ruoli.{{/if}}</p>{{/if}}"#;

pub const TASK: &str = r#"<h1>{{title}}</h1>
<p>Procedimento <a href="/instances/{{task.instance}}">{{workflow}}</a>{{#if for_tenant}} per conto di {{for_tenant}}{{/if}} · ruolo {{task.role}}{{#if due}} · scadenza <span class="{{#if overdue}}overdue{{/if}}">{{due}}</span>{{/if}}</p>
{{#if problem}}<p class="ko" role="alert">{{problem}}</p>{{/if}}
<details class="case"{{#unless problem}} open{{/unless}}><summary>Dati della pratica</summary>
{{#if case}}<dl>{{#each case}}<dt>{{name}}</dt><dd>{{value}}</dd>{{/each}}</dl>{{else}}<p>Nessun dato.</p>{{/if}}
{{#if documents}}<p>Atti emessi:</p><ul>{{#each documents}}<li><a href="/documents/{{id}}">{{template}}{{#if number}} n. {{number}}{{/if}}</a> — {{issued}}</li>{{/each}}</ul>{{/if}}
{{#if files}}<p>File allegati:</p><ul class="files">{{#each files}}<li><a href="/files/{{id}}" download>{{name}}</a> — {{size}}, {{content_type}} — allegato da {{by}} il {{at}}</li>{{/each}}</ul>{{/if}}
</details>
<form method="post" action="/tasks/{{task.id}}" novalidate{{#if multipart}} enctype="multipart/form-data"{{/if}}>
<input type="hidden" name="_csrf" value="{{csrf}}">
{{{form}}}
<p>{{#each actions}}<button type="submit" name="_action" value="{{name}}">{{title}}</button>{{/each}}</p>
</form>"#;

pub const INSTANCE: &str = r#"<h1>{{instance.definition}} <small>v{{instance.version}}</small></h1>
<p>Ente: <strong>{{instance.tenant_name}}</strong>{{#if instance.on_behalf_of_name}} per conto di <strong>{{instance.on_behalf_of_name}}</strong>{{/if}}</p>
<p>Stato: <strong>{{instance.state}}</strong> · esito: <strong>{{instance.status}}</strong> · avviato il {{started}}</p>
<p><a href="/instances/{{id}}/export" download>Scarica il fascicolo (cronologia, documenti e impronte)</a></p>
<p><a class="button" href="/instances/{{id}}/case-file" download>Scarica il fascicolo completo (ZIP: atti, allegati, lotti, verificabile con <code>procedo case-file verify</code>)</a></p>
<h2>File allegati</h2>
{{#if files}}<ul class="files">{{#each files}}<li><a href="/files/{{id}}" download>{{name}}</a> — {{size}}, {{content_type}} — allegato da <strong>{{by}}</strong> il {{at}} — sha256 <code>{{sha256}}</code></li>{{/each}}</ul>{{else}}<p>Nessun file allegato.</p>{{/if}}
<h2>Documenti</h2>
{{#if documents}}<ul>{{#each documents}}<li><a href="/documents/{{id}}">{{template}}{{#if number}} n. {{number}}{{/if}}</a> — sha256 <code>{{sha256}}</code></li>{{/each}}</ul>{{else}}<p>Nessun documento.</p>{{/if}}
<h2>Cronologia</h2>
<ol class="timeline">{{#each events}}<li><strong>{{at}}</strong> — {{kind}} di <strong>{{actor}}</strong>{{#if actor_tenant}} ({{actor_tenant}}){{/if}}{{#if from_state}} da «{{from_state}}»{{/if}} a «{{to_state}}»{{#if action}} con l'azione «{{action}}»{{/if}}
{{#if data}}<dl>{{#each data}}<dt>{{name}}</dt><dd>{{value}}</dd>{{/each}}</dl>{{/if}}
{{#each deadlines}}<p class="deadline">Scadenza dell'attività ({{role}}): <strong>{{at}}</strong> — {{spec}} dal {{base}}, contati in {{rule}}{{#if skipped}}; giorni festivi o non lavorativi considerati: {{skipped}}{{/if}}; calendario {{calendar}}</p>{{/each}}
{{#if effects}}<p><small>Effetti: {{effects}}</small></p>{{/if}}
<small>hash <code>{{hash}}</code></small></li>{{/each}}</ol>"#;

pub const AUDIT: &str = r#"<h1>Verifica dell'integrità</h1>
{{#if report.ok}}<p class="ok">Verificato: {{report.instances}} procedimenti, {{report.events}} eventi e {{report.documents}} documenti sono integri.</p>
{{else}}<p class="ko" role="alert">Integrità compromessa.</p><ul>{{#each report.broken}}<li>Procedimento {{instance}}, evento {{seq}} (<code>{{row}}</code>): {{reason}}</li>{{/each}}
{{#each report.broken_documents}}<li>Documento {{id}}: {{reason}}</li>{{/each}}
{{#each report.problems}}<li><code>{{row}}</code>: {{reason}}</li>{{/each}}</ul>{{/if}}"#;

pub const WORKFLOWS: &str = r#"<h1>Procedimenti disponibili</h1>
<table><thead><tr><th scope="col">Procedimento</th><th scope="col">Versioni</th><th scope="col">Ultimo rilascio</th></tr></thead><tbody>
{{#each workflows}}<tr><td><a href="/workflows/{{id}}">{{title}}</a> <code>{{id}}</code></td><td>{{#each versions}}<a href="/workflows/{{../id}}/{{n}}">v{{n}}</a> ({{whose}}{{#if current}}, in uso{{/if}}) {{/each}}</td><td>{{deployed}} ({{by}})</td></tr>{{/each}}
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

pub const WORKFLOW: &str = r#"<h1>{{title}} <small>v{{version}}</small></h1>
<p><code>{{id}}</code> · stato iniziale «{{initial}}» · {{states}} stati</p>
<figure>{{{svg}}}<figcaption>Diagramma degli stati (passare sopra un riquadro per il nome dello stato)</figcaption></figure>
<details><summary>Sorgente Mermaid</summary><pre>{{mermaid}}</pre></details>"#;
