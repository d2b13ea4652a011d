"""The report page: one self-contained HTML file with inline CSS and JavaScript, no network access.

Sections:

* **Recall, step by step** -- a slider (and play/pause) over the *shared step
  axis*: frame ``k`` of ``F`` shows each model at step ``round(k (n - 1) / (F -
  1))`` of its own ``n`` steps (models count updates, layers or ms), the same
  mapping as ``figures/recall.gif``. Each model shows its recalled item as an
  image, the item it is closest to, its overlap m with the cued item, and a
  small overlap-over-steps chart with a cursor. A selector picks the cue.
* **Metrics** -- a table sortable by any column (click a header; again to
  reverse).
* **Figures** -- SVG images embedded as data URIs, so they zoom without blur.
* **Scenario** as YAML, and the library versions.

The page defines ``window.hipposimReport`` with ``setFrame(k)``, ``setCue(c)``
and ``shown()`` (the captions currently shown) and records uncaught errors in
``window.hipposimReport.errors``, so a headless browser can check it.
"""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np

MAX_FRAMES = 60


def _quantise(vec: np.ndarray, coding: str) -> str:
    """Pixels as one character each: '0'..'9' for 0..1 (bipolar mapped to (v + 1) / 2), 'n' for NaN."""
    v = np.asarray(vec, dtype=float)
    v = (v + 1) / 2 if coding == "bipolar" else v
    q = np.round(np.clip(v, 0, 1) * 9)
    return "".join("n" if not np.isfinite(x) else str(int(x)) for x in q)


def recall_frames(results: Mapping[str, Any], stimulus, palette: list[str]) -> dict:
    """The data the page's slider steps through (JSON-safe)."""
    shape = stimulus.image_shape
    if shape is None:
        side = int(np.ceil(np.sqrt(stimulus.n_units)))
        shape = (side, side)
    models = []
    for k, (label, ds) in enumerate(results.items()):
        n = ds.sizes["step"]
        keep = np.unique(np.round(np.linspace(0, n - 1, min(n, MAX_FRAMES))).astype(int))
        unit = str(ds["step"].attrs.get("units", ds.attrs.get("step_unit", "update")))
        ov = ds["overlap"].values
        targets = ds["target"].values.astype(int)
        cues = []
        for c in range(ds.sizes["cue"]):
            o = ov[c][keep]
            best = [int(np.nanargmax(r)) if np.isfinite(r).any() else int(targets[c]) for r in o]
            cues.append({"img": [_quantise(s, stimulus.coding) for s in ds["state"].values[c][keep]],
                         "m": [None if not np.isfinite(x) else round(float(x), 4) for x in o[:, targets[c]]],
                         "best": best})
        models.append({"label": label, "unit": unit, "colour": palette[k % len(palette)],
                       "steps": [float(x) for x in ds["step"].values[keep]], "cues": cues})
    return {"shape": [int(shape[0]), int(shape[1])], "names": [str(x) for x in stimulus.names],
            "targets": [int(t) for t in stimulus.targets], "models": models,
            "frames": max(len(m["steps"]) for m in models) if models else 1}


def svg_uri(path: Path) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(path.read_bytes()).decode()


CSS = """
body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
thead th{background:#f4f4f4;cursor:pointer;user-select:none;white-space:nowrap}
thead th[aria-sort=ascending]::after{content:" \\25B2"}thead th[aria-sort=descending]::after{content:" \\25BC"}
tbody th{text-align:left}.table-wrap{overflow-x:auto}figure{margin:1.5em 0}img.fig{max-width:100%;height:auto}
pre{background:#f7f7f7;padding:1em;overflow:auto}
#player{display:flex;gap:1em;align-items:center;flex-wrap:wrap;margin:1em 0}
#player input[type=range]{flex:1;min-width:200px}
#models{display:flex;flex-wrap:wrap;gap:1em}
.model{border:2px solid #ccc;border-radius:6px;padding:.5em;width:200px}
.model h3{margin:.2em 0;font-size:1em}.model canvas{display:block;image-rendering:pixelated}
.caption{font-size:.85em;min-height:2.6em}
"""

JS = r"""
(function(){
  "use strict";
  var R = window.hipposimReport = {errors: []};
  window.addEventListener("error", function(e){ R.errors.push(String(e.message)); });
  var D = JSON.parse(document.getElementById("recall-data").textContent);
  var slider = document.getElementById("frame"), cueSel = document.getElementById("cue");
  var play = document.getElementById("play"), label = document.getElementById("frame-label");
  var cue = 0, frame = 0, timer = null, F = D.frames;
  slider.max = String(Math.max(F - 1, 0));
  D.targets.forEach(function(t, c){
    var o = document.createElement("option"); o.value = String(c);
    o.textContent = "cue " + c + ": " + D.names[t]; cueSel.appendChild(o);
  });
  var box = document.getElementById("models"), cards = [];
  D.models.forEach(function(m){
    var card = document.createElement("div"); card.className = "model"; card.style.borderColor = m.colour;
    var h = document.createElement("h3"); h.textContent = m.label; h.style.color = m.colour; card.appendChild(h);
    var img = document.createElement("canvas"), scale = Math.max(1, Math.floor(180 / Math.max(D.shape[0], D.shape[1])));
    img.width = D.shape[1] * scale; img.height = D.shape[0] * scale; card.appendChild(img);
    var cap = document.createElement("div"); cap.className = "caption"; card.appendChild(cap);
    var chart = document.createElement("canvas"); chart.width = 180; chart.height = 60; card.appendChild(chart);
    box.appendChild(card); cards.push({m: m, img: img, scale: scale, cap: cap, chart: chart});
  });
  function stepOf(m, k){ var n = m.steps.length; return F > 1 ? Math.round(k * (n - 1) / (F - 1)) : n - 1; }
  function unitName(m, i){
    var v = m.steps[i];
    if (m.unit === "ms") return Math.round(v) + " ms";
    if (m.unit === "layer") return "layer " + Math.round(v);
    return m.unit + " " + Math.round(v);
  }
  function drawImage(c, s){
    var ctx = c.img.getContext("2d"), w = D.shape[1];
    for (var p = 0; p < s.length; p++) {
      var ch = s.charAt(p), g = ch === "n" ? 128 : Math.round(255 * (1 - parseInt(ch, 10) / 9));
      ctx.fillStyle = "rgb(" + g + "," + g + "," + g + ")";
      ctx.fillRect((p % w) * c.scale, Math.floor(p / w) * c.scale, c.scale, c.scale);
    }
  }
  function drawChart(c, ms, i){
    var ctx = c.chart.getContext("2d"), W = c.chart.width, H = c.chart.height, n = ms.length;
    ctx.clearRect(0, 0, W, H); ctx.strokeStyle = "#ccc"; ctx.beginPath();
    ctx.moveTo(0, 4); ctx.lineTo(W, 4); ctx.moveTo(0, H - 4); ctx.lineTo(W, H - 4); ctx.stroke();
    function x(j){ return n > 1 ? 4 + j * (W - 8) / (n - 1) : W / 2; }
    function yy(v){ return 4 + (1 - (Math.max(-1, Math.min(1, v)) + 1) / 2) * (H - 8); }
    ctx.strokeStyle = c.m.colour; ctx.lineWidth = 2; ctx.beginPath();
    ms.forEach(function(v, j){ if (v === null) return; if (j === 0) ctx.moveTo(x(j), yy(v)); else ctx.lineTo(x(j), yy(v)); });
    ctx.stroke(); ctx.strokeStyle = "#000"; ctx.lineWidth = 1; ctx.beginPath();
    ctx.moveTo(x(i), 0); ctx.lineTo(x(i), H); ctx.stroke();
    ctx.fillStyle = "#777"; ctx.font = "9px sans-serif"; ctx.textAlign = "right";
    ctx.fillText("m = 1", W - 2, 12); ctx.fillText("m = -1", W - 2, H - 6);
  }
  function render(){
    cards.forEach(function(c){
      var m = c.m, i = stepOf(m, frame), q = m.cues[Math.min(cue, m.cues.length - 1)];
      drawImage(c, q.img[i]); drawChart(c, q.m, i);
      var mv = q.m[i] === null ? "n/a" : q.m[i].toFixed(2);
      c.cap.textContent = unitName(m, i) + ": closest to '" + D.names[q.best[i]] + "', m = " + mv;
      c.cap.setAttribute("data-step", String(i));
    });
    label.textContent = "frame " + (frame + 1) + " / " + F;
  }
  R.setFrame = function(k){ frame = Math.max(0, Math.min(F - 1, k | 0)); slider.value = String(frame); render(); };
  R.setCue = function(c){ cue = c | 0; cueSel.value = String(cue); render(); };
  R.shown = function(){ return cards.map(function(c){ return c.cap.textContent; }); };
  slider.addEventListener("input", function(){ frame = parseInt(slider.value, 10) || 0; render(); });
  cueSel.addEventListener("change", function(){ cue = parseInt(cueSel.value, 10) || 0; render(); });
  play.addEventListener("click", function(){
    if (timer) { clearInterval(timer); timer = null; play.textContent = "Play"; return; }
    if (frame >= F - 1) R.setFrame(0);
    play.textContent = "Pause";
    timer = setInterval(function(){
      if (frame >= F - 1) { clearInterval(timer); timer = null; play.textContent = "Play"; return; }
      R.setFrame(frame + 1);
    }, 400);
  });
  // sortable tables: click a header to sort by its column, again to reverse
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function(table){
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function(th, col){
      th.addEventListener("click", function(){
        var dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
        Array.prototype.forEach.call(heads, function(h){ h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", dir);
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        function key(r){ var cell = r.cells[col]; var v = cell.getAttribute("data-v"); return v === null ? cell.textContent : v; }
        rows.sort(function(a, b){
          var x = key(a), y = key(b), nx = parseFloat(x), ny = parseFloat(y), r;
          if (x === "" && y !== "") return 1; if (y === "" && x !== "") return -1;
          r = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x).localeCompare(String(y));
          return dir === "ascending" ? r : -r;
        });
        rows.forEach(function(r){ body.appendChild(r); });
      });
    });
  });
  render();
})();
"""


def render_page(title: str, generated: str, version: str, table_html: str, intro: str,
                frames: dict | None, figures: list[tuple[str, str]], scenario_yaml: str, versions: dict) -> str:
    """The whole page as a string. ``figures`` are (caption, data URI) pairs."""
    esc = html.escape
    data = json.dumps(frames or {"shape": [1, 1], "names": [], "targets": [], "models": [], "frames": 1})
    data = data.replace("</", "<\\/")  # never close the script element early
    player = ('<h2>Recall, step by step</h2><p>Frames run along the shared step axis: frame k of F shows each '
              'model at step round(k (n - 1) / (F - 1)) of its own n steps. m is the overlap with the cued item.</p>'
              '<div id="player"><button id="play" type="button">Play</button>'
              '<label for="frame">step</label><input id="frame" type="range" min="0" max="0" value="0" step="1">'
              '<span id="frame-label"></span><label for="cue">cue</label><select id="cue"></select></div>'
              '<div id="models"></div>')
    figs = "".join(f'<figure><img class="fig" src="{uri}" alt="{esc(cap)}"><figcaption>{esc(cap)}</figcaption>'
                   f"</figure>" for cap, uri in figures)
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{esc(title)}</title>
<style>{CSS}</style></head><body><h1>{esc(title)}</h1>
<p>Generated {esc(generated)} by hipposim {esc(version)}. {intro}</p>
{player}
<h2>Metrics</h2><p>Click a column header to sort.</p><div class="table-wrap">{table_html}</div>
<h2>Figures</h2>{figs}
<h2>Scenario</h2><pre id="scenario">{esc(scenario_yaml)}</pre>
<h2>Versions</h2><pre>{esc(json.dumps(versions, indent=2))}</pre>
<script type="application/json" id="recall-data">{data}</script>
<script>{JS}</script></body></html>"""
