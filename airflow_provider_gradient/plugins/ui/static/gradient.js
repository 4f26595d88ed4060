/* Gradient pages: sorting, filtering, column chooser, CSV export and CSRF-safe actions. No dependencies. */
(function () {
  "use strict";
  var meta = function (n) { var m = document.querySelector('meta[name="' + n + '"]'); return m ? m.content : ""; };
  var BASE = meta("gradient-base");

  function flash(msg, isError) {
    var f = document.getElementById("flash");
    if (!f) { return; }
    f.textContent = msg;
    f.className = isError ? "flash error" : "flash";
    f.hidden = false;
  }

  // In-page confirmation: Airflow shows plugin pages in a sandboxed iframe without allow-modals, where
  // window.confirm() is blocked (returns false), so our own <dialog> asks instead.
  function askConfirm(message) {
    var dlg = document.getElementById("confirm-dialog");
    if (!dlg || typeof dlg.showModal !== "function") { return Promise.resolve(window.confirm(message)); }
    document.getElementById("confirm-message").textContent = message;
    return new Promise(function (resolve) {
      var ok = document.getElementById("confirm-ok"), cancel = document.getElementById("confirm-cancel");
      var done = function (answer) {
        ok.onclick = null; cancel.onclick = null; dlg.oncancel = null;
        dlg.close();
        resolve(answer);
      };
      ok.onclick = function () { done(true); };
      cancel.onclick = function () { done(false); };
      dlg.oncancel = function () { done(false); };
      dlg.showModal();
    });
  }

  function cellValue(td) { return td ? (td.getAttribute("data-v") !== null ? td.getAttribute("data-v") : td.textContent.trim()) : ""; }

  // ---- sorting
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("th[data-sort]").forEach(function (th) {
      var sort = function () {
        var key = th.getAttribute("data-sort");
        var asc = !th.classList.contains("asc");
        table.querySelectorAll("th").forEach(function (h) { h.classList.remove("asc", "desc"); });
        th.classList.add(asc ? "asc" : "desc");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows).filter(function (r) { return !r.classList.contains("empty"); });
        rows.sort(function (a, b) {
          var va = cellValue(a.querySelector('td[data-col="' + key + '"]'));
          var vb = cellValue(b.querySelector('td[data-col="' + key + '"]'));
          var num = /^-?\d+(\.\d+)?(e[-+]?\d+)?$/i;
          var cmp;
          if (va === "" || vb === "") { return va === vb ? 0 : (va === "" ? 1 : -1); }
          if (num.test(va) && num.test(vb)) { cmp = parseFloat(va) - parseFloat(vb); }
          else { cmp = va.localeCompare(vb); }
          return asc ? cmp : -cmp;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      };
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") { sort(); } });
    });
  });

  // ---- filtering (text, phase, insight badges / finding widgets)
  var table = document.querySelector("table.filterable, table#projects");
  var activeTags = {};
  function applyFilter() {
    if (!table) { return; }
    var q = (document.getElementById("filter") || {value: ""}).value.trim().toLowerCase();
    var phaseSel = document.getElementById("phase-filter");
    var phase = phaseSel ? phaseSel.value : "";
    var tags = Object.keys(activeTags);
    var shown = 0;
    Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
      if (r.classList.contains("empty")) { return; }
      var ok = !q || r.textContent.toLowerCase().indexOf(q) >= 0;
      if (ok && phase) { ok = r.getAttribute("data-phase") === phase; }
      if (ok && tags.length) {
        var have = (r.getAttribute("data-insights") || r.getAttribute("data-findings") || "").split(/\s+/);
        ok = tags.every(function (t) { return have.indexOf(t) >= 0; });
      }
      r.hidden = !ok;
      if (ok) { shown += 1; }
    });
    var c = document.getElementById("shown-count");
    if (c) { c.textContent = shown + " shown"; }
  }
  ["filter", "phase-filter"].forEach(function (id) {
    var el = document.getElementById(id);
    if (el) { el.addEventListener("input", applyFilter); el.addEventListener("change", applyFilter); }
  });
  document.querySelectorAll("[data-insight], [data-finding]").forEach(function (b) {
    b.addEventListener("click", function () {
      var tag = b.getAttribute("data-insight") || b.getAttribute("data-finding");
      if (activeTags[tag]) { delete activeTags[tag]; b.classList.remove("on"); }
      else { activeTags[tag] = true; b.classList.add("on"); }
      applyFilter();
    });
  });
  applyFilter();

  // ---- column chooser (remembered per table in localStorage)
  document.querySelectorAll("[data-col-toggle]").forEach(function (cb) {
    var key = cb.getAttribute("data-col-toggle");
    var store = "gradient.cols." + (table ? table.id : "") + "." + key;
    var set = function () {
      document.querySelectorAll('[data-col="' + key + '"]').forEach(function (el) { el.classList.toggle("hidden-col", !cb.checked); });
      try { localStorage.setItem(store, cb.checked ? "1" : "0"); } catch (e) { /* private mode */ }
    };
    try { if (localStorage.getItem(store) === "0") { cb.checked = false; } } catch (e) { /* ignore */ }
    cb.addEventListener("change", set);
    set();
  });

  // ---- CSV export of the visible rows and columns
  // The rule of core/csv_cell.py (one rule for both exports): a cell starting with = + - @ tab or CR is
  // prefixed with ' unless the whole cell is a plain decimal number.
  var FORMULA_START = /^[=+\-@\t\r]/;
  var NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
  function csvCell(v) {
    var s = String(v === null || v === undefined ? "" : v);
    if (FORMULA_START.test(s) && !NUMBER.test(s)) { s = "'" + s; }
    return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }
  var exp = document.getElementById("export-csv");
  if (exp && table) {
    exp.addEventListener("click", function () {
      var heads = Array.prototype.filter.call(table.tHead.rows[0].cells, function (th) { return !th.classList.contains("hidden-col"); });
      var keys = heads.map(function (th) { return th.getAttribute("data-col"); });
      var lines = [heads.map(function (th) { return csvCell(th.getAttribute("data-col")); }).join(",")];
      Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
        if (r.hidden || r.classList.contains("empty")) { return; }
        lines.push(keys.map(function (k) { return csvCell(cellValue(r.querySelector('td[data-col="' + k + '"]'))); }).join(","));
      });
      var blob = new Blob([lines.join("\n") + "\n"], {type: "text/csv"});
      var a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = exp.getAttribute("data-filename") || "export.csv";
      document.body.appendChild(a);
      a.click();
      setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    });
  }

  // ---- actions (JSON POST + CSRF header; the session cookie alone is never enough)
  function post(path, body) {
    return fetch(BASE + path, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-Gradient-CSRF": meta("gradient-csrf")},
      body: JSON.stringify(body || {})
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (data) {
        if (!resp.ok) {
          var d = data && data.detail;
          var msg = typeof d === "string" ? d : (d ? JSON.stringify(d) : resp.statusText);
          throw new Error(msg);
        }
        return data;
      });
    });
  }
  var h1 = document.getElementById("project-name");
  var pid = h1 ? h1.getAttribute("data-project-id") : null;
  var QUESTIONS = {
    "delete": "Delete this project, its runs and recommendations?",
    "apply": "Apply the ready recommendation to the next run of this task?"
  };
  document.querySelectorAll("button[data-action]").forEach(function (b) {
    b.addEventListener("click", function () {
      var action = b.getAttribute("data-action");
      var ask = QUESTIONS[action] ? askConfirm(QUESTIONS[action]) : Promise.resolve(true);
      ask.then(function (yes) {
        if (!yes) { return; }
        b.disabled = true;
        post("/actions/projects/" + pid + "/" + action, {}).then(function (data) {
          if (action === "delete") { window.location.href = BASE + "/"; return; }
          sessionStorage.setItem("gradient.flash", data.message || (action + " done"));
          window.location.reload();
        }).catch(function (e) { b.disabled = false; flash(action + " failed: " + e.message, true); });
      });
    });
  });
  // ---- links out of Airflow's sandboxed plugin iframe (no allow-popups / allow-top-navigation there):
  // the link is followed by an anchor of the parent document (same origin), so the page opens outside
  // the iframe; when that is impossible the link opens in the frame itself.
  document.querySelectorAll("a[data-open-outside]").forEach(function (a) {
    a.addEventListener("click", function (ev) {
      if (window.top === window) { return; }  // not embedded: the normal link works
      ev.preventDefault();
      try {
        var doc = window.top.document;
        var out = doc.createElement("a");
        out.href = new URL(a.getAttribute("href"), window.location.href).toString();
        out.target = "_blank";
        out.rel = "noopener";
        doc.body.appendChild(out);
        out.click();
        out.remove();
      } catch (e) {
        window.location.href = a.href;
      }
    });
  });

  var msg = sessionStorage.getItem("gradient.flash");
  if (msg) { sessionStorage.removeItem("gradient.flash"); flash(msg, false); }

  var dlg = document.getElementById("settings-dialog");
  var editBtn = document.getElementById("edit-settings");
  if (dlg && editBtn) {
    editBtn.addEventListener("click", function () { dlg.showModal(); });
    document.getElementById("settings-cancel").addEventListener("click", function () { dlg.close(); });
    var form = document.getElementById("settings-form");
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var f = form.elements;
      var fams = f.allowed_families.value.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
      var body = {
        sla_minutes: f.sla_minutes.value === "" ? null : parseFloat(f.sla_minutes.value),
        auto_apply: f.auto_apply.checked,
        maintain_scaling_type: f.maintain_scaling_type.checked,
        optimize_instance_size: f.optimize_instance_size.checked,
        allowed_families: fams,
        force_on_demand: f.force_on_demand.checked,
        allow_arm: f.allow_arm.checked,
        window_start: f.window_start.value || null,
        window_end: f.window_end.value || null,
        max_workers: f.max_workers.value === "" ? null : Number(f.max_workers.value),
        learning_runs: f.learning_runs.value === "" ? null : Number(f.learning_runs.value)
      };
      var enabling = body.auto_apply && f.auto_apply.getAttribute("data-was") === "off";
      var ask = enabling ? askConfirm("Enable auto-apply? Gradient will change this job's cluster on its next runs without asking.")
                         : Promise.resolve(true);
      var err = document.getElementById("settings-error");
      ask.then(function (yes) {
        if (!yes) { return; }
        post("/actions/projects/" + pid + "/settings", body).then(function () {
          sessionStorage.setItem("gradient.flash", "Settings saved");
          window.location.reload();
        }).catch(function (e) { err.textContent = e.message; err.hidden = false; });
      });
    });
  }
})();
