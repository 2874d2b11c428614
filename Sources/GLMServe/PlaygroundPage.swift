/// The page at `/`: type text with blanks, choose greedy or sampling, watch the fills stream into
/// place (the `/v1/fill` event stream, docs/serve.md). Embedded so the binary needs no resource
/// files. For tests, `document.body.dataset.state` is `idle`, `running`, `done` or `error`, and
/// `dataset.tokens` counts the token events shown.
enum PlaygroundPage {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>GLM blank filling</title>
<style>
  :root { --fg: #1d232b; --muted: #5c6773; --line: #d5dbe1; --accent: #2563eb; --fill: #fde68a; --live: #bbf7d0; }
  * { box-sizing: border-box; }
  body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); margin: 0; background: #f6f8fa; }
  main { max-width: 820px; margin: 0 auto; padding: 24px 20px 40px; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  .sub { color: var(--muted); margin: 0 0 18px; font-size: 13px; }
  textarea { width: 100%; min-height: 96px; font: 15px/1.5 ui-monospace, SFMono-Regular, Menlo, monospace; padding: 10px;
             border: 1px solid var(--line); border-radius: 6px; resize: vertical; background: #fff; }
  fieldset { border: 1px solid var(--line); border-radius: 6px; margin: 12px 0; padding: 8px 12px 10px; background: #fff; }
  legend { color: var(--muted); font-size: 13px; padding: 0 4px; }
  .row { display: flex; flex-wrap: wrap; gap: 10px 18px; align-items: center; }
  label { font-size: 13px; color: var(--muted); }
  input[type=number], input[type=password] { width: 90px; padding: 3px 6px; border: 1px solid var(--line); border-radius: 4px; font: inherit; }
  input[type=password] { width: 220px; }
  .sampling[disabled] { opacity: .45; }
  button { background: var(--accent); color: #fff; border: 0; border-radius: 6px; padding: 8px 18px; font: inherit; cursor: pointer; }
  button[disabled] { opacity: .5; cursor: default; }
  #output { white-space: pre-wrap; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 14px; min-height: 64px;
            font: 16px/1.7 Georgia, "Times New Roman", serif; }
  mark { background: var(--fill); border-radius: 3px; padding: 1px 2px; }
  mark.live { background: var(--live); }
  mark.empty::after { content: "∅"; color: var(--muted); }
  #status { color: var(--muted); font-size: 13px; margin-top: 8px; min-height: 20px; }
  #status.error { color: #b91c1c; }
  .key { display: none; }
  .key.shown { display: flex; }
</style>
</head>
<body data-state="idle" data-tokens="0">
<main>
  <h1>GLM blank filling</h1>
  <p class="sub">Model <b id="model">…</b>. Write text with <code>[MASK]</code> blanks (text without one is continued);
     the fills stream into place, highlighted.</p>
  <textarea id="text" spellcheck="false">Paris is the [MASK] of France, and Berlin is the [MASK] of Germany.</textarea>
  <fieldset>
    <legend>Decoding</legend>
    <div class="row">
      <label><input type="radio" name="mode" value="greedy" id="greedy" checked> greedy</label>
      <label><input type="radio" name="mode" value="sample" id="sample"> sampling</label>
      <fieldset class="sampling" id="sampling" disabled style="border:0;margin:0;padding:0;background:none">
        <div class="row">
          <label>temperature <input type="number" id="temperature" value="0.9" min="0.01" step="0.05"></label>
          <label>top-k <input type="number" id="top_k" value="40" min="0" step="1"></label>
          <label>top-p <input type="number" id="top_p" value="0" min="0" max="1" step="0.05"></label>
          <label>seed <input type="number" id="seed" value="1234" min="0" step="1"></label>
        </div>
      </fieldset>
      <label>tokens per blank: at least <input type="number" id="min_new_tokens" value="0" min="0" step="1"></label>
      <label>at most <input type="number" id="max_new_tokens" value="32" min="1" step="1"></label>
    </div>
    <div class="row key" id="keyrow"><label>API key <input type="password" id="key" autocomplete="off"></label></div>
  </fieldset>
  <p><button id="fill">Fill the blanks</button></p>
  <div id="output" aria-live="polite"></div>
  <div id="status"></div>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const state = (s) => { document.body.dataset.state = s; };

fetch("/health").then(r => r.json()).then(h => {
  $("model").textContent = h.model;
  if (h.api_key_required) $("keyrow").classList.add("shown");
}).catch(() => { $("model").textContent = "(unreachable)"; });

for (const r of document.querySelectorAll("input[name=mode]")) {
  r.addEventListener("change", () => { $("sampling").disabled = $("greedy").checked; });
}

// A view is {text, fills: [{blank, start, end}]}, offsets in UTF-16 code units (JavaScript indices).
function render(view, live) {
  const out = $("output");
  out.textContent = "";
  let at = 0;
  for (const f of view.fills) {
    if (f.start < at || f.end > view.text.length) continue;
    out.append(document.createTextNode(view.text.slice(at, f.start)));
    const m = document.createElement("mark");
    m.textContent = view.text.slice(f.start, f.end);
    m.dataset.blank = f.blank;
    if (live && f.blank === live.blank) m.classList.add("live");
    if (f.start === f.end) m.classList.add("empty");
    out.append(m);
    at = f.end;
  }
  out.append(document.createTextNode(view.text.slice(at)));
}

function settings() {
  const num = (id) => Number($(id).value);
  const body = { text: $("text").value, stream: true, min_new_tokens: num("min_new_tokens"), max_new_tokens: num("max_new_tokens") };
  if ($("greedy").checked) body.greedy = true;
  else Object.assign(body, { temperature: num("temperature"), top_k: num("top_k"), top_p: num("top_p"), seed: num("seed") });
  return body;
}

async function fill() {
  const status = $("status");
  status.className = ""; status.textContent = "filling…";
  $("fill").disabled = true;
  document.body.dataset.tokens = "0";
  state("running");
  const headers = { "Content-Type": "application/json" };
  if ($("key").value) headers["Authorization"] = "Bearer " + $("key").value;
  try {
    const res = await fetch("/v1/fill", { method: "POST", headers, body: JSON.stringify(settings()) });
    if (!res.ok) {
      const e = await res.json().catch(() => ({ error: { message: res.statusText } }));
      throw new Error(e.error.message);
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "", done = false;
    while (!done) {
      const chunk = await reader.read();
      if (chunk.done) break;
      buffer += decoder.decode(chunk.value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
        let event = "message", data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) event = line.slice(7);
          else if (line.startsWith("data: ")) data += line.slice(6);
        }
        const msg = JSON.parse(data);
        if (event === "start") render(msg, null);
        else if (event === "token") {
          render(msg, msg);
          document.body.dataset.tokens = String(Number(document.body.dataset.tokens) + 1);
        } else if (event === "end") render(msg, null);
        else if (event === "done") {
          window.lastResult = msg;
          const n = msg.fills.length;
          status.textContent = `${n} blank${n === 1 ? "" : "s"} filled · ${msg.generated_tokens} tokens · ${msg.seconds.toFixed(2)} s`;
          state("done"); done = true;
        } else if (event === "error") throw new Error(msg.error.message);
      }
    }
    if (!done) throw new Error("the stream ended early");
  } catch (e) {
    status.className = "error"; status.textContent = e.message;
    state("error");
  } finally {
    $("fill").disabled = false;
  }
}

$("fill").addEventListener("click", fill);
$("text").addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) fill(); });
</script>
</body>
</html>
"""#
}
