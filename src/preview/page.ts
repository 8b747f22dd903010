/**
 * The preview page: one self-contained HTML document (no build step, no
 * external file), talking to server.ts.
 */

/** The page served at `/`. */
export function previewPage(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>invite-mailer preview</title>
<style>
  :root { color-scheme: light; --accent: #1a73e8; --muted: #4b5563; --line: #d1d5db; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #111827; background: #f9fafb; }
  header { padding: 12px 16px; background: #fff; border-bottom: 1px solid var(--line); }
  h1 { font-size: 18px; margin: 0 0 8px; }
  h2 { font-size: 16px; margin: 16px 0 8px; }
  .controls { display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: end; }
  label { display: flex; flex-direction: column; font-size: 13px; color: var(--muted); gap: 2px; min-width: 0; }
  select, button { font: inherit; padding: 6px 10px; border: 1px solid var(--line); border-radius: 6px; background: #fff; color: #111827; max-width: 100%; }
  button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; }
  :focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
  main { padding: 16px; max-width: 1200px; }
  .problem { border: 2px solid #b91c1c; background: #fef2f2; color: #7f1d1d; padding: 12px; border-radius: 8px; white-space: pre-wrap; overflow-wrap: anywhere; }
  .missing { border: 2px solid #b45309; background: #fffbeb; color: #78350f; padding: 8px 12px; border-radius: 8px; }
  dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0; }
  dl.meta dt { color: var(--muted); }
  dl.meta dd { margin: 0; overflow-wrap: anywhere; }
  .frames { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
  figure { margin: 0; }
  figcaption { font-size: 13px; color: var(--muted); }
  iframe { border: 1px solid var(--line); border-radius: 8px; background: #fff; height: 720px; }
  iframe.phone { width: 360px; max-width: 100%; }
  iframe.desktop { width: 720px; max-width: 100%; }
  pre { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px; overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere; max-height: 480px; }
  .status { font-size: 13px; color: var(--muted); }
  [hidden] { display: none !important; }
</style>
</head>
<body>
<header>
  <h1>invite-mailer preview</h1>
  <div class="controls">
    <label>Example <select id="example"></select></label>
    <label>Language <select id="locale"></select></label>
    <label>Recipient <select id="recipient"></select></label>
    <button id="send" type="button">Send to Mailpit</button>
    <span class="status" id="status" role="status" aria-live="polite"></span>
  </div>
</header>
<main>
  <div id="problem" class="problem" role="alert" hidden></div>
  <div id="missing" class="missing" role="alert" hidden></div>
  <section id="email" aria-label="The email as sent">
    <h2>Headers</h2>
    <dl class="meta">
      <dt>Subject</dt><dd id="subject"></dd>
      <dt>From</dt><dd id="from"></dd>
      <dt>To</dt><dd id="to"></dd>
      <dt>Language, zone</dt><dd id="where"></dd>
    </dl>
    <h2>HTML</h2>
    <div class="frames">
      <figure><figcaption>Phone, 360 px</figcaption><iframe id="phone" class="phone" title="The HTML part at phone width" sandbox=""></iframe></figure>
      <figure><figcaption>Desktop</figcaption><iframe id="desktop" class="desktop" title="The HTML part at desktop width" sandbox=""></iframe></figure>
    </div>
    <h2>Plain text</h2>
    <pre id="text"></pre>
    <h2>Calendar (<span id="method"></span>)</h2>
    <pre id="calendar"></pre>
  </section>
</main>
<script>
  const $ = (id) => document.getElementById(id);
  let examples = [];
  let version = -1;

  function option(value, label) { const o = document.createElement('option'); o.value = value; o.textContent = label; return o; }
  function query() {
    return new URLSearchParams({ example: $('example').value, locale: $('locale').value, recipient: $('recipient').value }).toString();
  }
  function showProblem(problem) {
    $('problem').hidden = !problem;
    $('email').hidden = Boolean(problem);
    if (problem) $('problem').textContent = 'Cannot render: ' + (problem.file ? problem.file + (problem.line ? ':' + problem.line : '') + '\\n' : '') + problem.message;
  }
  async function loadList() {
    const list = await (await fetch('/api/examples')).json();
    examples = list.examples;
    const keep = { example: $('example').value, locale: $('locale').value };
    $('example').replaceChildren(...examples.map((e) => option(e.name, e.name + ' (' + e.type + ')')));
    $('locale').replaceChildren(option('', 'as in the example'), ...list.locales.map((l) => option(l, l)));
    if (keep.example) $('example').value = keep.example;
    if (keep.locale && list.locales.includes(keep.locale)) $('locale').value = keep.locale;
    fillRecipients();
    showProblem(list.problem);
  }
  function fillRecipients() {
    const example = examples.find((e) => e.name === $('example').value);
    const keep = $('recipient').value;
    $('recipient').replaceChildren(...(example ? example.recipients : []).map((r) => option(r, r)));
    if (keep && example && example.recipients.includes(keep)) $('recipient').value = keep;
  }
  async function show() {
    if (!$('example').value) return;
    const email = await (await fetch('/api/email?' + query())).json();
    version = email.version;
    if (email.problem) { showProblem(email.problem); return; }
    showProblem(null);
    $('subject').textContent = email.subject;
    $('from').textContent = email.from;
    $('to').textContent = email.to;
    $('where').textContent = email.locale + ' (' + email.direction + '), ' + email.timeZone;
    $('text').textContent = email.text;
    $('text').dir = email.direction;
    $('calendar').textContent = email.calendar;
    $('method').textContent = 'METHOD:' + email.method;
    const src = '/api/html?' + query() + '&v=' + version;
    $('phone').src = src;
    $('desktop').src = src;
    const problems = [];
    if (email.missingKeys.length) problems.push('Missing in ' + email.locale + ': ' + email.missingKeys.join(', ') + ' (shown as ⟦key⟧)');
    if (email.unpassedPlaceholders.length) problems.push('Placeholders the template does not pass: ' + email.unpassedPlaceholders.join(', ') + ' (shown as ⟦key: {{name}} is not passed⟧)');
    $('missing').hidden = problems.length === 0;
    $('missing').textContent = problems.join('. ');
    $('status').textContent = 'Updated ' + new Date().toLocaleTimeString();
  }
  $('example').addEventListener('change', () => { fillRecipients(); show(); });
  $('locale').addEventListener('change', show);
  $('recipient').addEventListener('change', show);
  $('send').addEventListener('click', async () => {
    $('status').textContent = 'Sending…';
    const result = await (await fetch('/api/send?' + query(), { method: 'POST' })).json();
    if (result.problem) { $('status').textContent = 'Not sent: ' + result.problem.message; return; }
    $('status').textContent = result.outcome.verdict === 'accepted'
      ? 'Sent to ' + result.smtpUrl + ': ' + result.outcome.reply.response
      : 'Not sent (' + result.smtpUrl + '): ' + (result.outcome.reply.response || result.outcome.reply.message);
  });
  const events = new EventSource('/events');
  events.addEventListener('changed', async () => { await loadList(); await show(); });
  loadList().then(show);
</script>
</body>
</html>`;
}
