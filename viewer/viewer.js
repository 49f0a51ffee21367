// facesvg viewer: plain JS, no build step, no third-party code.
// Safety: strings from the API are only ever set with textContent/attributes; the one piece of
// markup inserted is the generated SVG, and only after sanitizeSvg() has rebuilt it from an
// allow-list of elements and attributes.
"use strict";

(() => {
  const FIELDS = ["image", "segmentation_map", "landmarks"];
  // The map is optional: without one the service derives the labels from the landmarks and photo.
  const REQUIRED = ["image", "landmarks"];
  const SUBMIT_PATH = "/api/v1/submit";
  const STATUS_PATH = "/api/v1/status/";
  const SAMPLE_FILES = {
    image: ["original_image.png", "image/png"],
    segmentation_map: ["segmentation_map.png", "image/png"],
    landmarks: ["landmarks.txt", "text/plain"],
  };
  const SEEN_KEY = "facesvg.viewer.jobs";
  const SETTINGS_KEY = "facesvg.viewer.settings";
  const DOWNLOADS = ["download-svg", "download-json", "download-geojson", "download-coco"];
  const SVG_NS = "http://www.w3.org/2000/svg";
  const XLINK_NS = "http://www.w3.org/1999/xlink";

  const $ = (id) => document.getElementById(id);
  const cfg = Object.assign({ apiBase: "", apiKey: "", samplePath: "sample/" }, window.FACESVG_CONFIG || {});

  const state = {
    job: null, // last status payload
    regions: [], // [{name, layer, area, share, visibility, mm2, path, row, checkbox}]
    layer: "both", // the layer switch: regions, zones or both
    pollTimer: null,
    tickTimer: null,
    startedAt: 0,
    runId: 0,
  };

  // ------------------------------------------------------------------ settings (API URL/key)

  function settings() {
    let saved = {};
    try {
      saved = JSON.parse(localStorage.getItem(SETTINGS_KEY) || "{}");
    } catch (_) {
      saved = {};
    }
    const query = new URLSearchParams(location.search);
    const trim = (url) => (url || "").replace(/\/+$/, "");
    const apiBase = trim(query.get("api") || saved.apiBase || cfg.apiBase);
    // A key goes only to the API it was saved (or configured) for: a link's ?api= cannot collect it.
    let apiKey = "";
    if (saved.apiKey && trim(saved.apiBase) === apiBase) apiKey = saved.apiKey;
    else if (cfg.apiKey && trim(cfg.apiBase) === apiBase) apiKey = cfg.apiKey;
    return { apiBase, apiKey, unconfirmedKey: !apiKey && Boolean(saved.apiKey || cfg.apiKey) };
  }

  function confirmLinkedApi() {
    // Opened with ?api= for another API than the saved one: ask before the saved key goes there.
    const s = settings();
    if (!s.unconfirmedKey) return;
    const ok = window.confirm(
      `This page was opened for the API ${s.apiBase || "(this server)"}, not the one your API key ` +
        "is saved for. Send your saved API key to it?",
    );
    if (!ok) return;
    let saved = {};
    try {
      saved = JSON.parse(localStorage.getItem(SETTINGS_KEY) || "{}");
    } catch (_) {
      saved = {};
    }
    localStorage.setItem(SETTINGS_KEY, JSON.stringify({ apiBase: s.apiBase, apiKey: saved.apiKey || cfg.apiKey }));
  }

  function initSettings() {
    confirmLinkedApi();
    const s = settings();
    $("api-base").value = s.apiBase;
    $("api-key").value = s.apiKey;
    $("settings-save").addEventListener("click", () => {
      localStorage.setItem(
        SETTINGS_KEY,
        JSON.stringify({ apiBase: $("api-base").value.trim(), apiKey: $("api-key").value }),
      );
      $("settings-save").closest("details").open = false;
    });
  }

  function apiUrl(path) {
    return settings().apiBase + path;
  }

  function apiHeaders(extra) {
    const h = Object.assign({}, extra || {});
    const key = settings().apiKey;
    if (key) h["x-api-key"] = key;
    return h;
  }

  // ------------------------------------------------------------------ file fields

  function input(field) {
    return $(`${field}-input`);
  }

  function formatBytes(n) {
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
    return `${(n / 1024 / 1024).toFixed(2)} MB`;
  }

  function showFile(field) {
    const el = input(field);
    const drop = el.closest(".drop");
    const file = el.files && el.files[0];
    const label = $(`${field}-file`);
    const thumb = drop.querySelector(".thumb");
    drop.classList.toggle("has-file", !!file);
    label.textContent = file ? `${file.name} · ${formatBytes(file.size)}` : "";
    if (thumb) {
      if (thumb.dataset.url) URL.revokeObjectURL(thumb.dataset.url);
      if (file && /^image\//.test(file.type)) {
        thumb.dataset.url = URL.createObjectURL(file);
        thumb.src = thumb.dataset.url;
        thumb.hidden = false;
        if (field === "segmentation_map") colourLabels(thumb);
        thumb.onerror = () => {
          thumb.hidden = true;
        };
      } else {
        thumb.hidden = true;
        thumb.removeAttribute("src");
      }
    }
    setFieldError(field, "");
  }

  // Each label scheme's raw value -> the core label (core/label_schemes.py): 0 background, 1 skin,
  // 2/3 brows, 4/5 eyes, 6 nose, 7 upper lip, 8 mouth, 9 lower lip, 10 hair, 11 ear, 12 glasses.
  const SCHEME_LUTS = {
    lapa: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    faceparsing19: [0, 1, 2, 3, 4, 5, 12, 11, 11, 0, 6, 8, 7, 9, 0, 0, 0, 10, 0],
    "celebamask-hq": [0, 1, 6, 12, 4, 5, 2, 3, 11, 11, 8, 7, 9, 10, 0, 0, 0, 0, 0],
    "facer-celebm": [0, 0, 1, 0, 11, 11, 3, 2, 5, 4, 6, 8, 9, 7, 10, 12, 0, 0, 0],
  };

  // The likeliest scheme for a grey map's values (null when nothing fits, or the map has colours):
  // the same plausibility as the API's likely_schemes: read in the right scheme, skin is the largest
  // facial class, the nose is larger than each eye and brow, and brows, eyes, nose, upper and lower
  // lip come from top to bottom.
  function suggestScheme(img) {
    const count = new Float64Array(256);
    const rows = new Float64Array(256);
    let top = 0;
    for (let i = 0, px = 0; i < img.data.length; i += 4, px++) {
      const v = img.data[i];
      if (v !== img.data[i + 1] || v !== img.data[i + 2]) return null;
      count[v] += 1;
      rows[v] += Math.floor(px / img.width);
      if (v > top) top = v;
    }
    let best = null;
    let bestScore = -1;
    for (const [name, lut] of Object.entries(SCHEME_LUTS)) {
      if (top >= lut.length) continue;
      const c = new Float64Array(13);
      const r = new Float64Array(13);
      lut.forEach((core, raw) => {
        c[core] += count[raw];
        r[core] += rows[raw];
      });
      let score = 0;
      const face = [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12];
      if (c[1] > 0 && face.every((k) => c[1] >= c[k])) score += 2;
      const pairs = lut.map((core, raw) => ([2, 3, 4, 5].includes(core) ? count[raw] : 0));
      if (c[6] > 0 && pairs.every((n) => c[6] >= n)) score += 1;
      const mean = [[2, 3], [4, 5], [6], [7], [9]].map((ks) => {
        const n = ks.reduce((a, k) => a + c[k], 0);
        return n ? ks.reduce((a, k) => a + r[k], 0) / n : null;
      });
      for (let k = 0; k + 1 < mean.length; k++) {
        if (mean[k] !== null && mean[k + 1] !== null && mean[k] < mean[k + 1]) score += 1;
      }
      if (score > bestScore) [best, bestScore] = [name, score];
    }
    return best;
  }

  // A label map is near-black (values 0..10): show its labels in false colour for the thumbnail.
  const LABEL_COLOURS = [
    [236, 232, 224], [233, 196, 170], [120, 90, 60], [120, 90, 60], [70, 120, 170], [70, 120, 170],
    [200, 140, 110], [190, 80, 90], [220, 110, 120], [210, 90, 100], [60, 50, 45], [214, 170, 140],
    [90, 160, 200],
  ];

  function colourLabels(thumb) {
    thumb.addEventListener("load", function once() {
      thumb.removeEventListener("load", once);
      // The scheme from the map's values (a few hundred px are plenty), then the thumbnail.
      const probe = document.createElement("canvas");
      const scale = Math.min(1, 256 / Math.max(thumb.naturalWidth || 1, thumb.naturalHeight || 1));
      probe.width = Math.max(1, Math.round((thumb.naturalWidth || 1) * scale));
      probe.height = Math.max(1, Math.round((thumb.naturalHeight || 1) * scale));
      const pctx = probe.getContext("2d", { willReadFrequently: true });
      pctx.imageSmoothingEnabled = false;
      pctx.drawImage(thumb, 0, 0, probe.width, probe.height);
      const suggested = suggestScheme(pctx.getImageData(0, 0, probe.width, probe.height));
      if (suggested) $("scheme-select").value = suggested;
      const lut = SCHEME_LUTS[$("scheme-select").value] || SCHEME_LUTS.lapa;
      const size = 88;
      const canvas = document.createElement("canvas");
      canvas.width = canvas.height = size;
      const ctx = canvas.getContext("2d", { willReadFrequently: true });
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(thumb, 0, 0, size, size);
      const img = ctx.getImageData(0, 0, size, size);
      for (let i = 0; i < img.data.length; i += 4) {
        const v = img.data[i];
        const c = LABEL_COLOURS[(v < lut.length ? lut[v] : v) % LABEL_COLOURS.length];
        img.data[i] = c[0];
        img.data[i + 1] = c[1];
        img.data[i + 2] = c[2];
        img.data[i + 3] = 255;
      }
      ctx.putImageData(img, 0, 0);
      thumb.src = canvas.toDataURL();
    });
  }

  function initDrops() {
    for (const field of FIELDS) {
      const el = input(field);
      const drop = el.closest(".drop");
      el.addEventListener("change", () => showFile(field));
      drop.addEventListener("dragenter", () => drop.classList.add("is-over"));
      drop.addEventListener("dragleave", () => drop.classList.remove("is-over"));
      drop.addEventListener("drop", () => drop.classList.remove("is-over"));
    }
    // Dropping all three files anywhere on the form assigns each to its field by name/type.
    const form = $("submit-form");
    form.addEventListener("dragover", (e) => e.preventDefault());
    form.addEventListener("drop", (e) => {
      const files = Array.from((e.dataTransfer && e.dataTransfer.files) || []);
      if (!files.length) return;
      e.preventDefault();
      const target = e.target.closest && e.target.closest(".field");
      if (files.length === 1 && target) {
        setFiles(target.dataset.field, files[0]);
        return;
      }
      for (const f of files) {
        const n = f.name.toLowerCase();
        if (/(segment|mask|label|parsing)/.test(n)) setFiles("segmentation_map", f);
        else if (/\.(txt|json)$/.test(n) || /landmark/.test(n)) setFiles("landmarks", f);
        else setFiles("image", f);
      }
    });
  }

  function setFiles(field, file) {
    const dt = new DataTransfer();
    dt.items.add(file);
    input(field).files = dt.files;
    showFile(field);
  }

  function setFieldError(field, message) {
    const box = $(`${field}-error`);
    if (!box) return;
    box.textContent = message || "";
    const wrap = box.closest(".field");
    if (wrap) wrap.classList.toggle("has-error", !!message);
    const el = input(field);
    if (el) {
      if (message) el.setAttribute("aria-invalid", "true");
      else el.removeAttribute("aria-invalid");
    }
  }

  function clearErrors() {
    for (const f of FIELDS) setFieldError(f, "");
    setFieldError("form", "");
  }

  // The API names the field at fault: "image", "segmentation_map", "landmarks", or a dotted path
  // ("landmarks.0", "options.margin", "body"). Anything that is not one of the three files is shown
  // under the form.
  function fieldOf(name) {
    const head = String(name || "").split(".")[0];
    return FIELDS.includes(head) ? head : "form";
  }

  // Words for an error that comes without a message; the API's own message is used when there is one.
  const ERROR_WORDS = {
    NoFace: "No usable face was found",
    UnsupportedFormat: "This is not a PNG, JPEG, WebP, HEIC or AVIF file",
    NotPNG: "The segmentation map must be a PNG",
    NotLabelMap: "This looks like a colour image, not a label map",
    InvalidBase64: "The file could not be read",
    LandmarkCount: "Wrong number of landmarks",
    InvalidLandmarks: "The landmarks file could not be read",
    Corrupt: "The file is corrupt",
    Truncated: "The file is truncated",
    Empty: "The file is empty",
    TooLarge: "The file is too large",
  };

  // One sentence per error: the API's message once, then its code, e.g.
  // "Not a PNG, JPEG, WebP, HEIF or AVIF file (UnsupportedFormat)". A message that starts with the name of the field
  // it is shown under ("image: …") loses that prefix.
  function describeError(err, shownUnder) {
    let msg = String(err.message || "").trim();
    if (shownUnder && msg.startsWith(`${shownUnder}: `)) msg = msg.slice(shownUnder.length + 2);
    if (!msg) msg = ERROR_WORDS[err.code] || "Request failed";
    if (!/^[\w.]+: /.test(msg)) msg = msg[0].toUpperCase() + msg.slice(1); // not "options.zones: …"
    return err.code && !msg.includes(err.code) ? `${msg} (${err.code})` : msg;
  }

  // ------------------------------------------------------------------ submit

  function readBase64(file) {
    return new Promise((resolve, reject) => {
      const r = new FileReader();
      r.onload = () => resolve(String(r.result).replace(/^data:[^,]*,/, ""));
      r.onerror = () => reject(r.error);
      r.readAsDataURL(file);
    });
  }

  function seenJobs() {
    try {
      return new Set(JSON.parse(sessionStorage.getItem(SEEN_KEY) || "[]"));
    } catch (_) {
      return new Set();
    }
  }

  function rememberJob(id) {
    const s = seenJobs();
    s.add(id);
    sessionStorage.setItem(SEEN_KEY, JSON.stringify(Array.from(s).slice(-200)));
  }

  async function submit(e) {
    if (e) e.preventDefault();
    clearErrors();
    let missing = false;
    for (const f of REQUIRED) {
      if (!input(f).files.length) {
        setFieldError(f, "Choose a file");
        missing = true;
      }
    }
    if (missing) return;
    const run = ++state.runId;
    setBusy(true);
    resetResult();
    try {
      const map = input("segmentation_map").files[0];
      const [image, segmentation_map, landmarks] = await Promise.all([
        readBase64(input("image").files[0]),
        map ? readBase64(map) : null,
        input("landmarks").files[0].text(),
      ]);
      // The API reads the landmarks as JSON or as the text of a QOVES landmarks.txt (a Python
      // literal), so the file's text goes as it is. No map chosen: the field is left out.
      const fields = segmentation_map ? { image, segmentation_map, landmarks } : { image, landmarks };
      const body = JSON.stringify(Object.assign(fields, requestOptions()));
      startJobView();
      const res = await fetch(apiUrl(SUBMIT_PATH), {
        method: "POST",
        headers: apiHeaders({ "Content-Type": "application/json" }),
        body,
      });
      const payload = await res.json().catch(() => ({}));
      if (run !== state.runId) return;
      if (!res.ok) {
        const err = payload.error || { code: `HTTP ${res.status}`, message: payload.message || res.statusText };
        const field = fieldOf(err.field);
        setFieldError(field, describeError(err, field));
        if (res.status === 413) setFieldError("form", "The files are too large together (the API takes about 9 MB).");
        hideJob();
        return;
      }
      const seen = seenJobs().has(payload.id);
      rememberJob(payload.id);
      if (res.status === 200) {
        // An identical request already finished: the API answers 200 with the result at once.
        showCache(`From the cache: identical inputs were already processed (job created ${when(payload.created_at)}).`);
      } else if (seen) {
        showCache("Identical inputs were just submitted: following the same job.");
      }
      onStatus(payload, run);
    } catch (err) {
      if (run !== state.runId) return;
      setFieldError("form", `Could not reach the API (${err && err.message ? err.message : err}).`);
      hideJob();
    } finally {
      if (run === state.runId) setBusy(false);
    }
  }

  // options.zones from the "Layers to draw" menu; none for the default (standard), which hashes the
  // same and is also what an API from before the zones accepts.
  // options.label_scheme likewise: none for the default (lapa).
  function requestOptions() {
    const options = {};
    const zones = $("zones-select").value;
    if (zones && zones !== "standard") options.zones = zones;
    const scheme = $("scheme-select").value;
    if (scheme && scheme !== "lapa") options.label_scheme = scheme;
    return Object.keys(options).length ? { options } : {};
  }

  function when(iso) {
    if (!iso) return "earlier";
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? "earlier" : d.toLocaleString();
  }

  async function trySample() {
    clearErrors();
    const btn = $("sample-btn");
    btn.classList.add("is-busy");
    btn.disabled = true;
    try {
      await Promise.all(
        Object.entries(SAMPLE_FILES).map(async ([field, [name, type]]) => {
          const res = await fetch(cfg.samplePath + name);
          if (!res.ok) throw new Error(`${name}: HTTP ${res.status}`);
          setFiles(field, new File([await res.blob()], name, { type }));
        }),
      );
    } catch (err) {
      setFieldError("form", `Could not load the sample (${err.message}).`);
      return;
    } finally {
      btn.classList.remove("is-busy");
      btn.disabled = false;
    }
    await submit();
  }

  function setBusy(busy) {
    $("submit-btn").disabled = busy;
    $("submit-btn").classList.toggle("is-busy", busy);
  }

  // ------------------------------------------------------------------ job status

  function startJobView() {
    stopTimers();
    $("stage-wait").textContent = "Rendering the contours…";
    state.startedAt = performance.now();
    $("job").hidden = false;
    $("stage-intro").hidden = true;
    $("stage-wait").hidden = false;
    $("job-cache").hidden = true;
    $("job-error").hidden = true;
    $("job-id").textContent = "…";
    setSteps("submitting");
    $("job-status").textContent = "Uploading…";
    state.tickTimer = setInterval(tick, 100);
    tick();
  }

  function hideJob() {
    stopTimers();
    $("stage-intro").hidden = false;
    $("stage-wait").hidden = true;
    $("job").hidden = true;
  }

  function stopTimers() {
    clearInterval(state.tickTimer);
    clearTimeout(state.pollTimer);
    state.tickTimer = null;
    state.pollTimer = null;
  }

  function tick() {
    $("job-elapsed").textContent = `${((performance.now() - state.startedAt) / 1000).toFixed(1)} s`;
  }

  function showCache(text) {
    $("job-cache").textContent = text;
    $("job-cache").hidden = false;
  }

  function setSteps(status) {
    const order = ["pending", "processing", "completed"];
    const idx = order.indexOf(status === "failed" ? "completed" : status);
    for (const li of $("steps").children) {
      const i = order.indexOf(li.dataset.step);
      li.className = "";
      li.textContent = li.dataset.step[0].toUpperCase() + li.dataset.step.slice(1);
      if (status === "failed" && li.dataset.step === "completed") {
        li.className = "is-failed";
        li.textContent = "Failed";
      } else if (i < idx || (i === idx && status === "completed")) li.className = "is-done";
      else if (i === idx) li.className = "is-current";
    }
    $("steps").setAttribute("aria-label", `Job ${status}`);
  }

  function onStatus(payload, run) {
    if (run !== state.runId) return;
    state.job = payload;
    $("job-id").textContent = payload.id || "";
    setSteps(payload.status);
    const labels = { pending: "Pending — queued", processing: "Processing — rendering", completed: "Completed", failed: "Failed" };
    $("job-status").textContent = labels[payload.status] || String(payload.status);
    if (payload.status === "completed") {
      stopTimers();
      tick();
      const server = serverSeconds(payload);
      if (server !== null) $("job-elapsed").textContent += ` · job ${server.toFixed(1)} s`;
      if (!payload.svg && httpUrl(payload.svg_url)) {
        // A large SVG is not inlined (the API keeps responses under Lambda's limit): fetch it.
        fetch(httpUrl(payload.svg_url))
          .then((r) => (r.ok ? r.text() : ""))
          .catch(() => "")
          .then((text) => {
            if (run === state.runId) showResult(payload, text);
          });
      } else {
        showResult(payload);
      }
    } else if (payload.status === "failed") {
      stopTimers();
      tick();
      $("stage-wait").textContent = "The job failed: see the job panel.";
      const err = payload.error || { code: "Failed", message: "the job failed" };
      $("job-error").textContent = `The job failed: ${describeError(err)}`;
      $("job-error").hidden = false;
      // A failed job has a code and a message, not a field; messages of input errors start with it.
      const m = /^(image|segmentation_map|landmarks)\b/.exec(err.message || "");
      const field = m ? m[1] : err.code === "NoFace" ? "segmentation_map" : null;
      if (field) setFieldError(field, describeError(err, field));
    } else {
      const delay = Math.min(1000, 150 + (performance.now() - state.startedAt) / 10);
      state.pollTimer = setTimeout(() => poll(payload.id, run), delay);
    }
  }

  function serverSeconds(p) {
    const a = Date.parse(p.created_at);
    const b = Date.parse(p.updated_at);
    return Number.isFinite(a) && Number.isFinite(b) && b >= a ? (b - a) / 1000 : null;
  }

  // A 4xx other than these will answer the same next time (an unknown id, another API key's job,
  // a refused key): polling stops and says why. Network errors, 5xx, 408 and 429 are retried.
  const RETRIED_STATUS = new Set([408, 429]);

  async function poll(id, run) {
    try {
      const res = await fetch(apiUrl(STATUS_PATH + encodeURIComponent(id)), { headers: apiHeaders() });
      const payload = await res.json().catch(() => ({}));
      const message = (payload.error && payload.error.message) || `HTTP ${res.status}`;
      if (res.status >= 400 && res.status < 500 && !RETRIED_STATUS.has(res.status)) {
        if (run !== state.runId) return;
        stopTimers();
        const why = res.status === 404 ? "no such job for this API key (or it has expired)" : message;
        $("job-status").textContent = `Status unavailable (HTTP ${res.status})`;
        $("job-error").textContent = `Cannot follow job ${id}: ${why}`;
        $("job-error").hidden = false;
        return;
      }
      if (!res.ok) throw new Error(message);
      onStatus(payload, run);
    } catch (err) {
      if (run !== state.runId) return;
      $("job-status").textContent = `Status unavailable, retrying… (${err.message})`;
      state.pollTimer = setTimeout(() => poll(id, run), 1500);
    }
  }

  // ------------------------------------------------------------------ result

  function resetResult() {
    state.job = null;
    state.regions = [];
    $("stage-svg").replaceChildren();
    $("stage-svg").hidden = true;
    $("stage-region").hidden = true;
    $("stage-empty").hidden = false;
    $("region-list").replaceChildren();
    $("region-count").textContent = "";
    $("regions-hint").hidden = false;
    $("area-note").hidden = true;
    $("visibility-note").hidden = true;
    $("tooltip").hidden = true;
    const sel = $("view-select");
    sel.replaceChildren(new Option("Combined SVG", ""));
    sel.disabled = true;
    setLayerSwitch([]);
    for (const id of DOWNLOADS) {
      const a = $(id);
      if (a.href && a.href.startsWith("blob:")) URL.revokeObjectURL(a.href);
      a.removeAttribute("href");
      a.removeAttribute("target");
      delete a.dataset.combined;
      a.setAttribute("aria-disabled", "true");
    }
    $("download-svg").textContent = "Download SVG";
    $("regions-all").disabled = true;
    $("regions-none").disabled = true;
    const old = document.querySelector(".missing");
    if (old) old.remove();
  }

  function decodeBase64Utf8(b64) {
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new TextDecoder("utf-8").decode(bytes);
  }

  // Rebuilds the SVG from an allow-list: SVG elements only, no scripts, no event handlers, no
  // external references (href only to #fragments or embedded raster data).
  const SVG_ELEMENTS = new Set([
    "svg", "g", "defs", "clipPath", "mask", "path", "image", "rect", "circle", "ellipse",
    "line", "polyline", "polygon", "title", "desc", "linearGradient", "radialGradient", "stop",
  ]);
  const SVG_ATTRS = new Set([
    "id", "d", "x", "y", "width", "height", "viewBox", "preserveAspectRatio", "version", "baseProfile",
    "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-dasharray", "stroke-opacity",
    "stroke-linejoin", "stroke-linecap", "opacity", "clip-path", "clip-rule", "mask", "transform",
    "cx", "cy", "r", "rx", "ry", "x1", "y1", "x2", "y2", "points", "offset", "stop-color",
    "stop-opacity", "gradientUnits", "clipPathUnits", "class",
  ]);
  const SAFE_HREF = /^(#[\w-]+|data:image\/(png|jpeg|webp);base64,[A-Za-z0-9+/=\s]*)$/;
  const SAFE_URL_REF = /^url\(#[\w-]+\)$/;
  const SAFE_CLASS = /^[\w\s-]*$/;

  function sanitizeSvg(text) {
    const doc = new DOMParser().parseFromString(text, "image/svg+xml");
    const root = doc.documentElement;
    if (!root || root.namespaceURI !== SVG_NS || root.localName !== "svg") throw new Error("not an SVG document");
    const copy = (src) => {
      if (src.namespaceURI !== SVG_NS || !SVG_ELEMENTS.has(src.localName)) return null;
      const out = document.createElementNS(SVG_NS, src.localName);
      for (const attr of Array.from(src.attributes)) {
        const name = attr.localName;
        const value = attr.value;
        if (name === "href" && (attr.namespaceURI === XLINK_NS || attr.namespaceURI === null)) {
          if (SAFE_HREF.test(value)) out.setAttribute("href", value);
          continue;
        }
        if (attr.namespaceURI !== null || !SVG_ATTRS.has(name)) continue;
        if (/url\(/i.test(value) && !SAFE_URL_REF.test(value.trim())) continue;
        if (name === "class" && !SAFE_CLASS.test(value)) continue;
        out.setAttribute(name, value);
      }
      for (const child of Array.from(src.childNodes)) {
        if (child.nodeType === Node.ELEMENT_NODE) {
          const c = copy(child);
          if (c) out.appendChild(c);
        } else if (child.nodeType === Node.TEXT_NODE && ["title", "desc"].includes(src.localName)) {
          out.appendChild(document.createTextNode(child.nodeValue));
        }
      }
      return out;
    };
    return copy(root);
  }

  function polygonArea(points) {
    let s = 0;
    for (let i = 0, n = points.length; i < n; i++) {
      const [x1, y1] = points[i];
      const [x2, y2] = points[(i + 1) % n];
      s += x1 * y2 - x2 * y1;
    }
    return Math.abs(s) / 2;
  }

  function pathFromPoints(points) {
    return points.map(([x, y], i) => `${i ? "L" : "M"} ${x},${y}`).join(" ") + " Z";
  }

  function prettyName(name) {
    return name.replace(/_/g, " ");
  }

  function fmtArea(a) {
    return `${Math.round(a).toLocaleString("en-US")} px²`;
  }

  // "57 % visible, hair" from {visible_fraction, occluded_by}; "" for a response without it.
  function visibilityText(v) {
    if (!v || typeof v.visible_fraction !== "number") return "";
    const pct = `${Math.round(v.visible_fraction * 100)} % visible`;
    const by = Array.isArray(v.occluded_by) ? v.occluded_by.map(prettyName).join(", ") : "";
    return by ? `${pct}, ${by}` : pct;
  }

  function isPartlyHidden(v) {
    if (!v || typeof v.visible_fraction !== "number") return false;
    return Math.round(v.visible_fraction * 100) < 100 || (Array.isArray(v.occluded_by) && v.occluded_by.length > 0);
  }

  // Every contour of the response with its layer: the standard regions (mask_contours), then the
  // aesthetic zones (zone_contours; absent in responses from before the zones).
  function layeredContours(p) {
    const out = [];
    for (const [name, pts] of Object.entries(p.mask_contours || {})) out.push({ name, pts, layer: "regions" });
    for (const [name, pts] of Object.entries(p.zone_contours || {})) out.push({ name, pts, layer: "zones" });
    return out;
  }

  function showResult(p, fetchedSvg) {
    let svgText = fetchedSvg || "";
    try {
      if (!svgText) svgText = p.svg ? decodeBase64Utf8(p.svg) : "";
    } catch (_) {
      svgText = "";
    }
    let svg = null;
    try {
      svg = svgText ? sanitizeSvg(svgText) : null;
    } catch (_) {
      svg = null;
    }
    if (!svg) {
      setFieldError("form", "The result has no readable SVG.");
      return;
    }
    svg.removeAttribute("width");
    svg.removeAttribute("height");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", "Facial regions over the photo");
    const stage = $("stage-svg");
    stage.replaceChildren(svg);
    stage.hidden = false;
    $("stage-empty").hidden = true;

    state.regions = buildRegionList(p, svg);
    const layers = Array.from(new Set(state.regions.map((r) => r.layer)));
    setLayerSwitch(layers);
    $("regions-hint").hidden = true;
    $("area-note").hidden = false;
    $("visibility-note").hidden = !p.visibility;
    $("regions-all").disabled = false;
    $("regions-none").disabled = false;
    showMissing(p);
    fillViewSelect(p);
    showView("");
    applyLayer(layers.length > 1 ? "both" : layers[0] || "both");
    setDownloads(p, svgText);
  }

  // One entry per region and zone the API returned contours for; its path is the SVG's own
  // region-<name> path, or (for a region the combined SVG only uses as the clip, such as the
  // face) an outline drawn from the contour, off by default.
  function buildRegionList(p, svg) {
    const contours = layeredContours(p);
    const face = (p.mask_contours || {}).face;
    const faceArea = face ? polygonArea(face) : 0;
    const list = $("region-list");
    const hasBoth = new Set(contours.map((c) => c.layer)).size > 1;
    let layerShown = null;
    return contours.map(({ name, pts, layer }) => {
      if (hasBoth && layer !== layerShown) list.appendChild(groupHead(layer));
      layerShown = layer;
      const area = polygonArea(pts);
      let path = svg.querySelector(`path[id="region-${CSS.escape(name)}"]`);
      const on = !!path;
      if (!path) path = outlinePath(svg, pts);
      path.classList.add("region");
      path.dataset.region = name;
      path.dataset.layer = layer;
      const region = {
        name,
        layer,
        area,
        path,
        share: faceArea ? area / faceArea : null,
        visibility: visibilityText((p.visibility || {})[name]),
        partlyHidden: isPartlyHidden((p.visibility || {})[name]),
        mm2: ((p.areas || {})[name] || {}).mm2,
      };
      region.row = regionRow(region, on);
      list.appendChild(region.row.parentElement);
      setRegionOn(region, on);
      path.addEventListener("mouseenter", () => hot(region, true));
      path.addEventListener("mouseleave", () => hot(region, false));
      path.addEventListener("mousemove", (e) => placeTooltip(e));
      return region;
    });
  }

  function groupHead(layer) {
    const li = document.createElement("li");
    li.className = "group-head";
    li.dataset.layer = layer;
    li.textContent = layer === "zones" ? "Aesthetic zones" : "Regions";
    return li;
  }

  function outlinePath(svg, pts) {
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", pathFromPoints(pts));
    path.setAttribute("stroke", "#80929C");
    path.setAttribute("stroke-width", "2");
    path.setAttribute("stroke-dasharray", "4,2");
    path.classList.add("region-outline");
    svg.appendChild(path);
    return path;
  }

  // What could not be drawn, with the reason when the visibility says it (e.g. "left ear (turned away)").
  function showMissing(p) {
    if (!p.missing || !p.missing.length) return;
    const why = (name) => {
      const v = (p.visibility || {})[name];
      const by = v && Array.isArray(v.occluded_by) ? v.occluded_by.map(prettyName).join(", ") : "";
      return by ? `${prettyName(name)} (${by})` : prettyName(name);
    };
    const note = document.createElement("p");
    note.className = "missing";
    note.textContent = `Not drawn for this face: ${p.missing.map(why).join(", ")}`;
    $("region-list").after(note);
  }

  function fillViewSelect(p) {
    const sel = $("view-select");
    const zones = p.zone_contours || {};
    const groups = { regions: null, zones: null };
    for (const name of Object.keys(p.regions_svg_urls || {})) {
      const layer = name in zones ? "zones" : "regions";
      if (!groups[layer]) {
        groups[layer] = document.createElement("optgroup");
        groups[layer].label = layer === "zones" ? "Zone SVGs" : "Region SVGs";
        sel.appendChild(groups[layer]);
      }
      groups[layer].appendChild(new Option(`${layer === "zones" ? "Zone" : "Region"}: ${prettyName(name)}`, name));
    }
    sel.disabled = false;
    sel.value = "";
  }

  // ------------------------------------------------------------------ layers (regions / zones / both)

  function setLayerSwitch(layers) {
    const box = $("layer-switch");
    box.disabled = layers.length < 2;
    const value = layers.length === 1 ? layers[0] : "both";
    for (const radio of box.querySelectorAll("input")) radio.checked = radio.value === value;
  }

  function inLayer(region, layer) {
    return layer === "both" || region.layer === layer;
  }

  // Shows one layer (or both) in the SVG and the list; "All"/"None" then act on what is shown.
  function applyLayer(layer) {
    state.layer = layer;
    for (const r of state.regions) {
      const shown = inLayer(r, layer);
      r.path.classList.toggle("is-layer-off", !shown);
      r.row.parentElement.hidden = !shown;
      if (!shown) hot(r, false);
    }
    for (const head of $("region-list").querySelectorAll(".group-head")) head.hidden = layer !== "both";
    $("region-count").textContent = String(state.regions.filter((r) => inLayer(r, layer)).length);
  }

  function shownRegions() {
    return state.regions.filter((r) => inLayer(r, state.layer || "both"));
  }

  // ------------------------------------------------------------------ downloads

  function setDownloads(p, svgText) {
    const tag = String(p.id || "").slice(0, 8);
    setDownload("download-svg", new Blob([svgText], { type: "image/svg+xml" }), `face-${tag}.svg`);
    const contours = { id: p.id, mask_contours: p.mask_contours || {}, transform: p.transform || null };
    if (p.zone_contours) contours.zone_contours = p.zone_contours;
    if (p.inverse_transform) contours.inverse_transform = p.inverse_transform;
    const json = JSON.stringify(contours, null, 1);
    setDownload("download-json", new Blob([json], { type: "application/json" }), `contours-${tag}.json`);
    // Presigned links on another origin: a download attribute would be ignored, so they open in a tab.
    const urls = p.result_urls || {};
    setLink("download-geojson", urls["result.geojson"]);
    setLink("download-coco", urls["result.coco.json"]);
  }

  function setDownload(id, blob, filename) {
    const a = $(id);
    a.href = URL.createObjectURL(blob);
    a.download = filename;
    a.dataset.combined = a.href;
    a.dataset.filename = filename;
    a.removeAttribute("aria-disabled");
  }

  // A URL from the API's answer, only if it is http(s): an API named by ?api= may answer anything
  // (javascript:, data:...), and a link must never run or embed it. "" for anything else.
  function httpUrl(value) {
    try {
      const url = new URL(String(value || ""));
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : "";
    } catch (_) {
      return "";
    }
  }

  function setLink(id, value) {
    const a = $(id);
    const url = httpUrl(value);
    if (!url) {
      a.removeAttribute("href");
      a.setAttribute("aria-disabled", "true");
      return;
    }
    a.href = url;
    a.target = "_blank";
    a.rel = "noopener";
    a.removeAttribute("aria-disabled");
  }

  // ------------------------------------------------------------------ region list

  function shareText(region) {
    return region.share !== null && region.name !== "face" ? `${(region.share * 100).toFixed(1)} %` : fmtArea(region.area);
  }

  function regionRow(region, on) {
    const li = document.createElement("li");
    li.dataset.layer = region.layer;
    const label = document.createElement("label");
    label.className = "region-row";
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = on;
    box.dataset.region = region.name;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = prettyName(region.name);
    const area = document.createElement("span");
    area.className = "area";
    area.textContent = shareText(region);
    const bar = document.createElement("span");
    bar.className = "bar";
    const fill = document.createElement("span");
    fill.style.width = `${Math.min(100, (region.share || 0) * 100 * 2.5).toFixed(1)}%`;
    bar.appendChild(fill);
    label.append(box, name, area);
    if (region.partlyHidden) {
      const vis = document.createElement("span");
      vis.className = "vis";
      vis.textContent = region.visibility;
      label.appendChild(vis);
    }
    label.appendChild(bar);
    label.title = [prettyName(region.name), fmtArea(region.area), region.visibility].filter(Boolean).join(" · ");
    li.appendChild(label);
    region.checkbox = box;
    box.addEventListener("change", () => setRegionOn(region, box.checked));
    label.addEventListener("mouseenter", () => hot(region, true, label));
    label.addEventListener("mouseleave", () => hot(region, false));
    box.addEventListener("focus", () => hot(region, true, label));
    box.addEventListener("blur", () => hot(region, false));
    return label;
  }

  function setRegionOn(region, on) {
    region.path.classList.toggle("is-off", !on);
    region.row.classList.toggle("is-off", !on);
    if (region.checkbox) region.checkbox.checked = on;
  }

  function tooltipText(region) {
    const share = region.share !== null && region.name !== "face" ? ` · ${(region.share * 100).toFixed(1)} % of face` : "";
    const mm = typeof region.mm2 === "number" ? ` · ≈ ${Math.round(region.mm2).toLocaleString("en-US")} mm²` : "";
    const lines = [`${fmtArea(region.area)}${share}${mm}`];
    if (region.visibility) lines.push(region.visibility);
    return lines;
  }

  function hot(region, on, anchor) {
    for (const r of state.regions) {
      const h = on && r === region;
      r.path.classList.toggle("is-hot", h);
      r.row.classList.toggle("is-hot", h);
    }
    $("stage-svg").classList.toggle("has-hot", on);
    const tip = $("tooltip");
    if (!on) {
      tip.hidden = true;
      return;
    }
    const title = document.createElement("strong");
    title.textContent = prettyName(region.name);
    const lines = tooltipText(region).map((text) => {
      const line = document.createElement("span");
      line.textContent = text;
      return line;
    });
    tip.replaceChildren(title, ...lines);
    tip.hidden = false;
    if (anchor) {
      // From the list (mouse or keyboard): pin the label at the region's centre.
      const box = region.path.getBBox ? region.path.getBBox() : null;
      const svg = $("stage-svg").querySelector("svg");
      if (box && svg && box.width) {
        const pt = svg.createSVGPoint();
        pt.x = box.x + box.width / 2;
        pt.y = box.y + box.height / 2;
        const screen = pt.matrixTransform(region.path.getScreenCTM());
        const stage = $("stage").getBoundingClientRect();
        tip.style.left = `${screen.x - stage.left}px`;
        tip.style.top = `${screen.y - stage.top}px`;
      }
    }
  }

  function placeTooltip(e) {
    const stage = $("stage").getBoundingClientRect();
    const tip = $("tooltip");
    tip.style.left = `${e.clientX - stage.left}px`;
    tip.style.top = `${e.clientY - stage.top}px`;
  }

  function showView(name) {
    const p = state.job;
    const combined = !name;
    $("stage-svg").hidden = !combined;
    $("stage-region").hidden = combined;
    $("regions-all").disabled = !combined;
    $("regions-none").disabled = !combined;
    for (const r of state.regions) r.checkbox.disabled = !combined;
    const dl = $("download-svg");
    if (p && combined && dl.dataset.combined) {
      dl.href = dl.dataset.combined;
      dl.removeAttribute("aria-disabled");
      dl.download = dl.dataset.filename;
      dl.removeAttribute("target");
      dl.textContent = "Download SVG";
    }
    if (combined || !p) return;
    // A cross-origin link cannot force a download: open the region's SVG in a new tab instead.
    const kind = (p.zone_contours || {})[name] ? "zone" : "region";
    const url = httpUrl((p.regions_svg_urls || {})[name]);
    if (url) {
      dl.href = url;
      dl.removeAttribute("aria-disabled");
    } else {
      dl.removeAttribute("href"); // not an http(s) URL: no link at all
      dl.setAttribute("aria-disabled", "true");
    }
    dl.removeAttribute("download");
    dl.target = "_blank";
    dl.rel = "noopener";
    dl.textContent = `Open ${kind} SVG`;
    const img = $("region-img");
    const cap = $("region-caption");
    cap.textContent = `${prettyName(name)} — its own SVG`;
    img.alt = `SVG of the ${prettyName(name)} ${kind}`;
    img.onerror = () => {
      cap.textContent = `${prettyName(name)}: the ${kind} SVG could not be loaded (its link may have expired; submit again to refresh it).`;
    };
    img.src = url;
  }

  // ------------------------------------------------------------------ wiring

  function init() {
    initSettings();
    initDrops();
    $("submit-form").addEventListener("submit", submit);
    $("sample-btn").addEventListener("click", trySample);
    $("view-select").addEventListener("change", (e) => showView(e.target.value));
    $("regions-all").addEventListener("click", () => shownRegions().forEach((r) => setRegionOn(r, true)));
    $("regions-none").addEventListener("click", () => shownRegions().forEach((r) => setRegionOn(r, false)));
    $("layer-switch").addEventListener("change", (e) => {
      if (e.target.name === "layer") applyLayer(e.target.value);
    });
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape") state.regions.forEach((r) => hot(r, false));
    });
  }

  init();
})();
