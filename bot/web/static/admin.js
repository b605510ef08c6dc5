// The store owner's console: a thin client of the admin API (docs/console.md). Charts are drawn
// by plotly.js, served by this server from the installed plotly package. No build step.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const C = window.WabotConsole;
  const { el, clock, ago, chip, segmentLabel, reasonText, LANGUAGE_SOURCES } = C;
  const TOKEN_KEY = "wabot.adminToken";
  const page = JSON.parse($("console-data").textContent || "{}");
  let token = sessionStorage.getItem(TOKEN_KEY) || "";
  const api = C.client(() => token, () => signOut("Your token was not accepted. Sign in again."));

  const state = { segments: [], segment: null, campaigns: [], campaign: null, preview: null, detail: null,
                  customer: null, pollGeneration: 0, lastProgressText: "" };

  // ------------------------------------------------------------ formatting

  const numberFormat = new Intl.NumberFormat();
  const n = (value) => (value === null || value === undefined ? "—" : numberFormat.format(value));
  const pct = (rate) => (rate === null || rate === undefined ? "—" : `${(rate * 100).toFixed(1)}%`);
  let languageNames = null;
  try { languageNames = new Intl.DisplayNames(["en"], { type: "language" }); } catch (_) { languageNames = null; }
  const languageName = (code) => {
    if (!code) return "—";
    try { return languageNames ? `${languageNames.of(code)} (${code})` : code; } catch (_) { return code; }
  };

  function money(amount, currency) {
    if (amount === null || amount === undefined) return "—";
    const digits = Math.abs(amount) < 1 && amount !== 0 ? 4 : 2;
    try {
      return new Intl.NumberFormat(undefined, { style: "currency", currency: currency || page.currency || "USD",
                                                minimumFractionDigits: 2, maximumFractionDigits: digits }).format(amount);
    } catch (_) {
      return `${amount.toFixed(digits)} ${currency || ""}`.trim();
    }
  }

  const SKIP_REASONS = {
    opted_out: "opted out", no_consent: "no marketing consent", in_handoff: "talking with an agent",
    frequency_cap: "frequency cap (marketing per 7 days)", quiet_hours: "quiet hours: sent when they end",
    already_sent: "already got this campaign", window_closed_no_template: "window closed and no template",
    no_wa_id: "no WhatsApp number", blocked_country: "country blocked for marketing",
    tier_limit: "messaging tier full: sent later",
    template_paused: "window closed and the template is paused by Meta",
    recently_limited: "Meta's per-customer marketing limit (24 h)",
  };
  // Why a message of an estimate is free (bot/campaigns/pricing.py FREE_REASONS, docs/pricing.md).
  const FREE_REASONS = {
    in_window_utility: "Free: utility template in the window", free_entry_point: "Free: ad entry point (72 h)",
    service: "Free: service (free-form) message", zero_rate: "Free: rate of 0 in [rates]",
  };
  const DEFERRED = ["quiet_hours", "tier_limit"];
  const VARIANT = (i) => String.fromCharCode(65 + (Number(i) || 0));
  const COLORS = ["#0f7b5f", "#2563eb", "#b45309", "#9f1239", "#6b21a8", "#075985"];

  // ------------------------------------------------------------ charts (plotly.js)

  function chartsAvailable(node) {
    if (window.Plotly) return true;
    node.replaceChildren(el("p", { class: "empty" }, "Charts are unavailable: plotly.js did not load."));
    return false;
  }

  function plot(node, data, layout, summary) {
    node.removeAttribute("aria-labelledby");
    node.setAttribute("aria-label", summary);
    if (!chartsAvailable(node)) return;
    if (!node.classList.contains("js-plotly-plot")) node.replaceChildren();
    window.Plotly.react(node, data, Object.assign({
      autosize: true, margin: { l: 10, r: 10, t: 10, b: 30 }, paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)", dragmode: false,
      font: { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12, color: "#17202a" },
      legend: { orientation: "h", x: 0, y: -0.2 },
    }, layout), { displayModeBar: false, responsive: true });
  }

  function clearChart(node, message) {
    if (window.Plotly && node.classList.contains("js-plotly-plot")) window.Plotly.purge(node);
    node.replaceChildren(el("p", { class: "empty" }, message));
    node.setAttribute("aria-label", message);
  }

  // ------------------------------------------------------------ sign in

  function signOut(message) {
    token = "";
    state.pollGeneration += 1;
    sessionStorage.removeItem(TOKEN_KEY);
    $("console").hidden = true;
    $("who").hidden = true;
    $("sections").hidden = true;
    $("sign-in").hidden = false;
    $("sign-in-error").textContent = message || "";
    $("token").focus();
  }

  async function signIn(candidate) {
    token = candidate;
    const result = await api("GET", "/api/segments");
    if (!result.ok) {
      signOut(result.status === 401 ? "That token was not accepted." : C.errorText(result));
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    $("sign-in").hidden = true;
    $("console").hidden = false;
    $("who").hidden = false;
    $("sections").hidden = false;
    $("console").focus({ preventScroll: true });
    renderSegments(result.data);
    await Promise.all([loadCampaigns(), loadAutomations()]);
  }

  $("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("token").value.trim();
    if (!value) { $("sign-in-error").textContent = "Enter the admin token."; return; }
    signIn(value);
  });
  $("sign-out").addEventListener("click", () => signOut(""));

  // ------------------------------------------------------------ confirmation

  function confirmAction({ title, text, ok, returnFocus }) {
    const dialog = $("confirm");
    $("confirm-title").textContent = title;
    $("confirm-text").textContent = text;
    $("confirm-ok").textContent = ok;
    return new Promise((resolve) => {
      const finish = (answer) => {
        $("confirm-ok").removeEventListener("click", yes);
        $("confirm-cancel").removeEventListener("click", no);
        dialog.removeEventListener("cancel", no);
        if (dialog.open) dialog.close();
        if (returnFocus) returnFocus.focus();
        resolve(answer);
      };
      const yes = () => finish(true);
      const no = (event) => { if (event) event.preventDefault(); finish(false); };
      $("confirm-ok").addEventListener("click", yes);
      $("confirm-cancel").addEventListener("click", no);
      dialog.addEventListener("cancel", no);
      dialog.showModal();
      $("confirm-cancel").focus();
    });
  }

  // ------------------------------------------------------------ segments

  function renderSegments(list) {
    state.segments = list;
    $("segments-note").textContent = `${list.length} segments. Sizes as of the last refresh.`;
    $("segments-body").replaceChildren(...list.map((s) => {
      const open = el("button", { type: "button", class: "linkish", "data-segment": s.name,
                                  "aria-current": s.name === state.segment ? "true" : "false" }, segmentLabel(s.name));
      open.addEventListener("click", () => openSegment(s.name, true));
      return el("tr", { class: s.name === state.segment ? "current" : null },
        el("td", {}, open), el("td", { class: "num" }, n(s.count)), el("td", { class: "definition" }, s.description));
    }));
    const ordered = [...list];
    plot($("sizes-chart"), [{
      type: "bar", orientation: "h", x: ordered.map((s) => s.count), y: ordered.map((s) => segmentLabel(s.name)),
      text: ordered.map((s) => n(s.count)), textposition: "auto", marker: { color: COLORS[0] },
      customdata: ordered.map((s) => s.name), hovertemplate: "%{y}: %{x}<extra></extra>",
    }], {
      height: Math.max(220, 26 * ordered.length + 50), yaxis: { automargin: true, autorange: "reversed", fixedrange: true },
      xaxis: { rangemode: "tozero", fixedrange: true, automargin: true }, showlegend: false,
    }, `Members per segment: ${ordered.map((s) => `${segmentLabel(s.name)} ${s.count}`).join(", ")}`);
    const chart = $("sizes-chart");
    if (chart.on && !chart.dataset.clicks) {
      chart.dataset.clicks = "1";
      chart.on("plotly_click", (event) => { const p = event.points && event.points[0]; if (p) openSegment(p.customdata, false); });
    }
    if (!state.segment && list.length) {
      const first = list.find((s) => s.count > 0) || list[0];
      openSegment(first.name, false);
    }
  }

  async function openSegment(name, focus) {
    state.segment = name;
    document.querySelectorAll("#segments-body tr").forEach((row) => {
      const button = row.querySelector("button");
      const current = button.dataset.segment === name;
      row.classList.toggle("current", current);
      button.setAttribute("aria-current", current ? "true" : "false");
    });
    const days = $("history-days").value;
    const result = await api("GET", `/api/segments/${encodeURIComponent(name)}/history?days=${encodeURIComponent(days)}`);
    if (state.segment !== name) return;
    $("segment-detail").hidden = false;
    if (!result.ok) {
      $("segment-title").textContent = segmentLabel(name);
      $("segment-definition").textContent = C.errorText(result);
      return;
    }
    const h = result.data;
    const listed = state.segments.find((s) => s.name === name);
    const count = h.count !== null && h.count !== undefined ? h.count : listed ? listed.count : null;
    $("segment-title").textContent = `${segmentLabel(name)} · ${n(count)} members`;
    $("segment-definition").replaceChildren(...[h.description,
      h.rule && h.description !== `Rule: ${h.rule}` ? el("span", {}, " · rule ", el("code", {}, h.rule)) : null].filter(Boolean));
    renderHistory(h);
    renderChanges(h);
    if (focus) $("segment-title").scrollIntoView({ block: "nearest" });
  }
  $("history-days").addEventListener("change", () => { if (state.segment) openSegment(state.segment, false); });

  function renderHistory(h) {
    const chart = $("history-chart");
    const points = h.points;
    if (!points.length) {
      clearChart(chart, `No refresh in the last ${h.days} days: sizes are recorded by each segment refresh `
        + "(every 15 minutes while wabot runs, or wabot segments refresh).");
      $("history-label").textContent = "";
      return;
    }
    const x = points.map((p) => p.at);
    const times = x.map((t) => Date.parse(t));
    const gaps = times.slice(1).map((t, i) => t - times[i]).filter((g) => g > 0);
    const spacing = gaps.length ? Math.min(...gaps) : 6 * 3600 * 1000;  // one point: a 12-hour window
    const range = [new Date(times[0] - spacing).toISOString(), new Date(times[times.length - 1] + spacing).toISOString()];
    const most = Math.max(...points.map((p) => p.count), 1);
    const moved = Math.max(...points.map((p) => Math.max(p.entered, p.exited)), 1);
    const whole = (top) => (top < 8 ? { dtick: 1 } : {});
    plot(chart, [
      { type: "scatter", mode: points.length > 1 ? "lines+markers" : "markers", name: "Members", x,
        y: points.map((p) => p.count), line: { color: COLORS[0], width: 3, shape: "hv" }, marker: { size: 8 },
        fill: points.length > 1 ? "tozeroy" : "none", fillcolor: "rgba(15,123,95,.08)",
        hovertemplate: "%{x|%b %d %H:%M}: %{y} members<extra></extra>" },
      { type: "bar", name: "Entered", x, y: points.map((p) => p.entered), xaxis: "x", yaxis: "y2",
        width: spacing * 0.6, marker: { color: "#4fb38e" }, hovertemplate: "%{x|%b %d %H:%M}: %{y} entered<extra></extra>" },
      { type: "bar", name: "Left", x, y: points.map((p) => -p.exited), xaxis: "x", yaxis: "y2", width: spacing * 0.6,
        marker: { color: "#e0736b" }, customdata: points.map((p) => p.exited),
        hovertemplate: "%{x|%b %d %H:%M}: %{customdata} left<extra></extra>" },
    ], {
      height: 320, barmode: "relative", margin: { l: 10, r: 10, t: 10, b: 30 },
      xaxis: { type: "date", range, automargin: true, fixedrange: true, anchor: "y2" },
      yaxis: { title: { text: "Members" }, domain: [0.4, 1], range: [0, most * 1.15], tickformat: ",d", automargin: true,
               fixedrange: true, ...whole(most) },
      yaxis2: { title: { text: "In / out" }, domain: [0, 0.3], range: [-moved * 1.25, moved * 1.25],
                tickvals: [-moved, 0, moved], ticktext: [n(moved), "0", n(moved)], zeroline: true, automargin: true,
                fixedrange: true },
    }, `${segmentLabel(h.segment)} over ${h.days} days: from ${points[0].count} to ${points[points.length - 1].count} members`);
    const first = points[0], last = points[points.length - 1];
    $("history-label").textContent = `${points.length} ${h.bucket === "day" ? "days" : points.length === 1 ? "refresh" : "refreshes"}: `
      + `${n(first.count)} members on ${clock(first.at)}, ${n(last.count)} on ${clock(last.at)}.`;
  }

  function personButton(person) {
    const button = el("button", { type: "button", class: "linkish" }, person.name);
    button.addEventListener("click", () => openCustomer(person.key, true));
    return el("li", {}, button, person.wa_id ? el("span", { class: "muted small" }, ` +${person.wa_id}`) : null);
  }

  function renderChanges(h) {
    const day = h.last_24h;
    if (!day) {
      $("changes-note").textContent = "No refresh yet: sizes and changes are recorded by each segment refresh.";
      $("entered-title").textContent = "Entered";
      $("exited-title").textContent = "Left";
      $("entered").replaceChildren(el("li", { class: "empty" }, "—"));
      $("exited").replaceChildren(el("li", { class: "empty" }, "—"));
      return;
    }
    const last = h.last_change;
    $("changes-note").textContent = `In the 24 hours to the latest refresh (${clock(day.until)}).`
      + (last ? ` Last change: ${clock(last.at)}, ${n(last.entered)} in, ${n(last.exited)} out.` : " No change yet.");
    $("entered-title").textContent = `Entered: ${n(day.entered)}`;
    $("exited-title").textContent = `Left: ${n(day.exited)}`;
    const list = (people, total) => (people.length
      ? [...people.map(personButton), total > people.length ? el("li", { class: "muted small" }, `and ${n(total - people.length)} more`) : null]
        .filter(Boolean)
      : [el("li", { class: "empty" }, "Nobody.")]);
    $("entered").replaceChildren(...list(day.entered_customers, day.entered));
    $("exited").replaceChildren(...list(day.exited_customers, day.exited));
  }

  // ------------------------------------------------------------ customers

  $("search-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const q = $("q").value.trim();
    const status = $("search-status");
    if (q.length < 2) { status.textContent = "Type at least 2 characters of a number, name or email."; status.className = "status error"; return; }
    status.textContent = "Searching…";
    status.className = "status";
    const result = await api("GET", `/api/customers?q=${encodeURIComponent(q)}`);
    if (!result.ok) { status.textContent = C.errorText(result); status.className = "status error"; return; }
    const found = result.data.customers;
    status.textContent = found.length ? `${found.length} customer${found.length === 1 ? "" : "s"} found${found.length >= 20 ? " (the first 20)" : ""}.`
      : `Nobody found for “${q}”.`;
    $("found").replaceChildren(...found.map((c) => {
      const button = el("button", { type: "button", "data-key": c.key },
        el("strong", {}, c.name),
        el("span", { class: "sub" }, [c.wa_id ? C.address(c.wa_id) : c.key, c.email].filter(Boolean).join(" · ")),
        c.segments.length ? el("span", { class: "chips" }, ...c.segments.map(chip)) : null);
      button.addEventListener("click", () => openCustomer(c.key, true));
      return el("li", {}, button);
    }));
    if (found.length === 1) openCustomer(found[0].key, false);
  });

  async function openCustomer(key, focus) {
    state.customer = key;
    document.querySelectorAll("#found button").forEach((b) => b.setAttribute("aria-current", b.dataset.key === key ? "true" : "false"));
    const result = await api("GET", `/api/customers/${encodeURIComponent(key)}`);
    if (state.customer !== key) return;
    const panel = $("customer");
    panel.hidden = false;
    if (!result.ok) {
      $("customer-name").textContent = "Customer";
      $("customer-sub").textContent = C.errorText(result);
      $("customer-facts").replaceChildren();
      $("customer-segments").replaceChildren();
      $("customer-transcript").replaceChildren();
      return;
    }
    renderCustomer(result.data);
    if (focus) { panel.scrollIntoView({ block: "start" }); panel.focus({ preventScroll: true }); }
  }

  function renderCustomer(d) {
    const c = d.customer, a = d.attributes || {}, stored = c.attributes || {};
    $("customer-name").textContent = c.name;
    $("customer-sub").textContent = [c.wa_id ? C.address(c.wa_id) : d.key,
      c.state === "agent" ? `with agent ${c.agent}` : c.state === "pending" ? "waiting for an agent" : "the bot answers",
      c.window_open ? "24-hour window open" : "window closed"].join(" · ");
    const facts = [
      ["Language", a.language ? `${languageName(a.language)}, ${LANGUAGE_SOURCES[a.language_source] || a.language_source}` : "—"],
      ["Orders", n(a.orders_count)],
      ["Total spent", money(a.total_spent, c.currency)],
      ["Average order", a.aov === null || a.aov === undefined ? "—" : money(a.aov, c.currency)],
      ["Last order", a.last_order_at ? `${clock(a.last_order_at)} (${ago(a.last_order_at)})` : "—"],
      ["Last message", a.last_inbound_at ? `${clock(a.last_inbound_at)} (${ago(a.last_inbound_at)})` : "—"],
      ["RFM", a.rfm || "—"],
      ["Country", a.country || "—"],
      ["Marketing", stored.opted_out ? "opted out" : stored.marketing_paused ? "paused in WhatsApp"
        : a.consent ? "consented" : "no consent recorded"],
    ];
    if (a.tags && a.tags.length) facts.push(["Tags", Array.isArray(a.tags) ? a.tags.join(", ") : String(a.tags)]);
    $("customer-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
    $("customer-segments").replaceChildren(...(d.explain.length ? d.explain.map((s) =>
      el("li", {}, chip(s.segment), el("span", { class: "description" }, ` ${s.description}`),
        el("span", { class: "reason" }, reasonText(s.reason))))
      : [el("li", { class: "empty" }, "In no segment now.")]));
    const transcript = c.transcript || [];
    $("customer-transcript").replaceChildren(...(transcript.length ? transcript.map((item) => C.bubble(item, c.name, null))
      : [el("li", { class: "empty" }, "No messages yet.")]));
    const log = $("customer-transcript");
    log.scrollTop = log.scrollHeight;
  }

  // ------------------------------------------------------------ campaigns and reorder prompts

  const baseOf = (c) => (c.kind === "reorder" ? "/api/reorder" : `/api/campaigns/${encodeURIComponent(c.name)}`);
  const titleOf = (c) => (c.kind === "reorder" ? "Reorder prompts" : c.name);

  function audienceText(c) {
    if (c.kind === "reorder") return "customers due to buy a product again";
    return c.segment ? `segment ${segmentLabel(c.segment)}` : `rule ${c.rule}`;
  }

  function whenText(c) {
    if (c.kind === "reorder") return "when a purchase is due (checked every hour)";
    if (c.schedule) return `on schedule ${c.schedule} (store time)`;
    if (c.trigger === "enter") return `when a customer enters ${segmentLabel(c.segment)}`;
    return "by hand";
  }

  async function loadCampaigns() {
    const result = await api("GET", "/api/campaigns");
    if (!result.ok) { $("campaigns-empty").hidden = false; $("campaigns-empty").textContent = C.errorText(result); return; }
    state.campaigns = result.data;
    const shown = state.campaigns;
    $("campaigns-empty").hidden = shown.some((c) => c.kind === "campaign");
    $("campaign-list").replaceChildren(...shown.map((c) => {
      const button = el("button", { type: "button", "data-name": c.name, "data-kind": c.kind,
                                    "aria-current": state.campaign && state.campaign.name === c.name ? "true" : "false" },
        el("span", { class: "name" }, titleOf(c)),
        el("span", { class: "sub" }, `${audienceText(c)} · ${whenText(c)}`),
        el("span", { class: "sub" }, c.last_run ? `last run ${ago(c.last_run.run_at)}` : "never run"));
      button.addEventListener("click", () => selectCampaign(c, true));
      return el("li", {}, button);
    }));
    const again = state.campaign && shown.find((c) => c.name === state.campaign.name && c.kind === state.campaign.kind);
    const first = again || shown.find((c) => c.kind === "campaign") || shown[0];
    if (first) selectCampaign(first, false);
  }

  function campaignFacts(c) {
    const facts = [["Audience", c.kind === "campaign" && c.rule ? el("code", {}, c.rule) : audienceText(c)],
                   ["When", whenText(c) + (c.next_run_at ? `; next ${clock(c.next_run_at)}` : "")],
                   ["Category", c.category]];
    if (c.kind === "reorder" && c.watch) {
      const days = Object.entries(c.watch.days || {}).map(([sel, d]) => `${sel}: ${d} days`);
      if (c.watch.default_days) days.push(`everything else: ${c.watch.default_days} days`);
      facts.push(["Due after", days.join("; ") || "—"],
                 ["Not sent", `more than ${c.watch.max_overdue_days} days overdue`]);
    }
    if (c.test_fraction) {
      facts.push(["Test", `${Math.round(c.test_fraction * 100)}% of the audience first, split among `
        + `${c.variants.length} variant${c.variants.length === 1 ? "" : "s"}; Promote sends the best to the rest`
        + (c.promoted ? ` (variant ${VARIANT(c.promoted.variant)} promoted ${clock(c.promoted.at)})` : "")]);
    }
    c.variants.forEach((v) => {
      const label = c.variants.length > 1 ? `Variant ${VARIANT(v.variant)}` : "Message";
      const parts = [];
      if (v.text) parts.push(`“${v.text}”${v.languages.length ? ` (also in ${v.languages.join(", ")})` : ""}`);
      if (v.template) parts.push(`template ${v.template.name} (${[v.template.language, ...v.template.languages].join(", ")}) outside the window`);
      facts.push([label, parts.join("; ") || "—"]);
    });
    if (c.template_health && c.template_health.length) {
      // what Meta last said of the templates (docs/campaigns.md, "Template health")
      facts.push(["Template health", c.template_health.map((t) => `${t.name} (${t.language}): `
        + `${t.status || "—"}${t.quality ? `, quality ${t.quality}` : ""}`
        + (!t.usable ? " — not sent" : t.flagged ? " — flagged, at risk of a pause" : "")).join("; ")]);
    }
    if (c.buttons && c.buttons.length) {
      facts.push(["Buttons", c.buttons.map((b) => (typeof b === "string" ? b : `${b.title} → ${b.intent}`)).join(", ")]);
    }
    const last = c.last_run;
    facts.push(["Last run", last ? `${clock(last.run_at)} (${last.trigger}${last.group !== "all" ? `, ${last.group} group` : ""}): `
      + `${n(last.eligible)} of ${n(last.audience)} messaged${last.runs > 1 ? ` · ${n(last.runs)} runs` : ""}` : "never"]);
    return facts;
  }

  async function selectCampaign(c, focus) {
    state.pollGeneration += 1;
    state.campaign = c;
    state.preview = null;
    state.detail = null;
    state.lastProgressText = "";
    $("test").hidden = true;
    document.querySelectorAll("#campaign-list button").forEach((b) =>
      b.setAttribute("aria-current", b.dataset.name === c.name && b.dataset.kind === c.kind ? "true" : "false"));
    $("campaign").hidden = false;
    $("campaign-title").textContent = titleOf(c);
    $("campaign-sub").textContent = c.kind === "reorder" ? "reorder prompts (marketing)" : `campaign · ${c.category}`;
    $("campaign-facts").replaceChildren(...campaignFacts(c).flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
    $("progress").hidden = true;
    $("run").disabled = true;
    if (focus) $("campaign-title").focus();
    await Promise.all([loadPreview(c), loadResults(c)]);
    if (state.campaign === c && c.last_run) watchRun(c, c.last_run.run_id);
  }

  async function loadPreview(c) {
    const status = $("preview-status");
    $("preview").hidden = true;
    $("run").disabled = true;
    status.textContent = "Planning…";
    status.className = "status";
    const result = await api("GET", `${baseOf(c)}/preview`);
    if (state.campaign !== c) return;
    if (!result.ok) { status.textContent = C.errorText(result); status.className = "status error"; return; }
    state.preview = result.data;
    status.textContent = `Planned ${clock(new Date().toISOString())}.`;
    renderPreview(c, result.data);
  }
  $("refresh-preview").addEventListener("click", () => { if (state.campaign) loadPreview(state.campaign); });

  function tile(label, value) {
    return el("li", {}, el("span", { class: "value" }, value), el("span", { class: "label" }, label));
  }

  function later(p) {
    return DEFERRED.reduce((sum, reason) => sum + ((p.skipped || {})[reason] || 0), 0);
  }

  function renderPreview(c, p) {
    const cost = p.estimated_cost || {};
    const skippedTotal = Object.values(p.skipped || {}).reduce((a, b) => a + b, 0);
    const tiles = [];
    if (c.kind === "reorder") tiles.push(tile("Products due", n(p.due)), tile("Prompts chosen", n(p.prompts)));
    const audience = c.kind === "reorder" ? "Customers" : p.group === "test" ? "In the test group"
      : p.group === "rest" ? "Rest of the audience" : "Audience";
    tiles.push(tile(audience, n(p.audience)),
               tile("Would get a message", n(p.eligible)),
               tile("Free-form (window open)", n(p.freeform)),
               tile("Template", n(p.template)),
               tile("Skipped or later", n(skippedTotal)),
               tile("Estimated cost", money(cost.total, cost.currency)));
    if (p.held_back) tiles.push(tile("Held back for the promotion", n(p.held_back)));
    if (cost.deferred_total) tiles.push(tile("Cost of later sends", money(cost.deferred_total, cost.currency)));
    Object.entries(cost.free_by_reason || {}).filter(([, count]) => count)
      .forEach(([reason, count]) => tiles.push(tile(FREE_REASONS[reason] || reason.replace(/_/g, " "), n(count))));
    const since = [...new Set(Object.values(cost.rates_effective || {}).flat().map((d) => d || "always"))].sort();
    if (since.length) tiles.push(tile("Rates in effect since", since.join(", ")));
    $("preview-tiles").replaceChildren(...tiles);
    const warnings = p.warnings || [];
    $("preview-warnings").replaceChildren(...warnings.map((w) => el("li", {}, w)));
    $("preview-warnings").hidden = !warnings.length;
    const rows = (entries, label, empty) => (entries.length
      ? entries.map(([k, v]) => el("li", {}, el("span", {}, label(k)), el("span", {}, v)))
      : [el("li", { class: "empty" }, empty)]);
    $("preview-skipped").replaceChildren(...rows(Object.entries(p.skipped || {}), (k) => SKIP_REASONS[k] || k.replace(/_/g, " "), "Nobody."));
    $("preview-languages").replaceChildren(...rows(Object.entries(p.by_language || {}).map(([k, v]) => [k, n(v)]), languageName, "—"));
    $("preview-countries").replaceChildren(...rows(Object.entries(cost.by_country || {}).map(([k, v]) => [k, money(v, cost.currency)]),
      (k) => k, cost.total ? "—" : "Free: every message is inside a customer's window or free."));
    renderSample(p);
    $("preview").hidden = false;
    $("run").disabled = !(p.eligible > 0 || later(p) > 0);
  }

  function templateText(t) {
    if (!t) return "";
    if (typeof t === "string") return `template ${t}`;
    const params = t.params || t.body || t.parameters || [];
    return `template ${t.name || ""}${t.language ? ` (${t.language})` : ""}${params.length ? `: ${params.join(", ")}` : ""}`;
  }

  function renderSample(p) {
    const body = $("sample-body");
    if (!Array.isArray(p.sample)) {
      body.replaceChildren();
      $("sample-note").textContent = "This server's preview does not name recipients.";
      return;
    }
    body.replaceChildren(...(p.sample.length ? p.sample.map((r) => {
      const who = el("button", { type: "button", class: "linkish" }, r.name || r.wa_id);
      who.addEventListener("click", () => openCustomer(r.wa_id, true));
      return el("tr", {},
        el("td", {}, who, r.wa_id ? el("span", { class: "muted small" }, el("br"), C.address(r.wa_id)) : null),
        el("td", {}, languageName(r.language)),
        el("td", {}, r.form === "template" ? "Template" : "Free-form"),
        el("td", { class: "message" }, r.text !== undefined && r.text !== null ? r.text : templateText(r.template),
          r.buttons && r.buttons.length ? el("span", { class: "chips" }, ...r.buttons.map((b) => el("span", { class: "chip" }, b))) : null,
          r.variant !== undefined ? el("span", { class: "muted small" }, ` variant ${VARIANT(r.variant)}`) : null));
    }) : [el("tr", {}, el("td", { colspan: "4", class: "empty" }, "Nobody would get a message now."))]));
    $("sample-note").textContent = p.sample.length && p.eligible > p.sample.length
      ? `${p.sample.length} of ${n(p.eligible)} recipients shown.` : "";
  }

  $("run").addEventListener("click", async () => {
    const c = state.campaign, p = state.preview;
    if (!c || !p) return;
    const cost = p.estimated_cost || {};
    const deferred = later(p);
    const ok = await confirmAction({
      title: `Run ${titleOf(c)} now?`,
      text: `${n(p.eligible)} customer${p.eligible === 1 ? "" : "s"} would get a message now`
        + ` (${n(p.freeform)} free-form, ${n(p.template)} template), estimated cost ${money(cost.total, cost.currency)}.`
        + (deferred ? ` ${n(deferred)} more when their quiet hours end or the tier allows.` : "")
        + " Messages cannot be called back.",
      ok: "Run now", returnFocus: $("run"),
    });
    if (!ok) return;
    $("run").disabled = true;
    const status = $("preview-status");
    status.textContent = "Running…";
    status.className = "status";
    const result = await api("POST", `${baseOf(c)}/run`, { confirm: true });
    if (state.campaign !== c) return;
    if (!result.ok) { status.textContent = C.errorText(result); status.className = "status error"; $("run").disabled = false; return; }
    const r = result.data;
    watchRun(c, r.run_id);
    await loadPreview(c);
    status.textContent = `Run ${r.run_id}: ${n(r.queued)} queued, ${n(r.deferred)} for later. The preview now shows who is left.`;
    status.className = "status ok";
  });

  // ------------------------------------------------------------ progress of a run

  function bar(label, value, max) {
    return el("div", { class: "bar" }, el("span", {}, label),
      el("progress", { max: String(Math.max(max, 1)), value: String(Math.min(value, Math.max(max, 1))), "aria-label": `${label}: ${value} of ${max}` }),
      el("span", { class: "n" }, n(value)));
  }

  function renderProgress(p) {
    const planned = p.planned;
    $("progress").hidden = false;
    $("progress-title").textContent = `Progress of run ${p.run_id} (${clock(p.run_at)}, ${p.trigger})`;
    const text = planned === 0 && p.deferred === 0 ? "This run queued no message."
      : `${n(p.sent)} of ${n(planned)} sent, ${n(p.delivered)} delivered, ${n(p.read)} read`
        + (p.failed ? `, ${n(p.failed)} failed` : "") + (p.deferred ? `, ${n(p.deferred)} waiting for later` : "")
        + (p.queued ? ": sending…" : ": every message was handed to WhatsApp.");
    if (text !== state.lastProgressText) { $("progress-text").textContent = text; state.lastProgressText = text; }
    const bars = [bar("Queued", p.queued, planned), bar("Sent", p.sent, planned), bar("Delivered", p.delivered, planned),
                  bar("Read", p.read, planned)];
    if (p.failed) bars.push(bar("Failed", p.failed, planned));
    if (p.deferred) bars.push(bar("Later", p.deferred, planned + p.deferred));
    $("progress-bars").replaceChildren(...bars);
  }

  // Poll a run's progress: quickly while messages are queued, then slower for a while, since
  // delivered and read statuses arrive later.
  async function watchRun(c, runId) {
    const generation = ++state.pollGeneration;
    let slowPolls = 0;
    let previous = "";
    while (generation === state.pollGeneration && token) {
      const result = await api("GET", `${baseOf(c)}/progress?run=${encodeURIComponent(runId)}`);
      if (generation !== state.pollGeneration) return;
      if (!result.ok) { $("progress").hidden = false; $("progress-text").textContent = C.errorText(result); return; }
      const p = result.data;
      renderProgress(p);
      const key = JSON.stringify([p.queued, p.sent, p.delivered, p.read, p.failed]);
      if (key !== previous) { previous = key; loadResults(c); }
      if (!p.queued) slowPolls += 1;
      // Delivered and read arrive within minutes: an older finished run is shown once, a fresh one followed for 2 min.
      if (slowPolls > 24 || (!p.queued && Date.now() - Date.parse(p.run_at) > 10 * 60 * 1000)) break;
      await new Promise((resolve) => setTimeout(resolve, p.queued ? 1000 : 5000));
    }
  }

  // ------------------------------------------------------------ results per group and variant

  function groupName(g, c) {
    const variant = c.variants && c.variants.length > 1 ? ` ${VARIANT(g.variant)}` : "";
    return g.group === "all" ? `All${variant}` : g.group === "test" ? `Test${variant}` : `Rest${variant}`;
  }

  async function loadResults(c) {
    const result = await api("GET", baseOf(c));
    if (state.campaign !== c) return;
    if (!result.ok) { $("results-empty").hidden = false; $("results-empty").textContent = C.errorText(result); return; }
    state.detail = result.data;
    $("campaign-facts").replaceChildren(...campaignFacts(result.data).flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
    renderResults(c, result.data);
    renderTest(c, result.data);
  }

  function renderResults(c, d) {
    const groups = d.stats.groups.filter((g) => g.planned || g.sent || g.failed || g.deferred);
    const anything = groups.length > 0;
    $("results-empty").hidden = anything;
    $("results-empty").textContent = "Nothing sent yet.";
    $("results").hidden = !anything;
    if (!anything) return;
    const metrics = [["sent", "Sent"], ["delivered", "Delivered"], ["read", "Read"], ["replied", "Replied"], ["converted", "Converted"]];
    const hasRevenue = groups.some((g) => g.revenue !== undefined);
    $("revenue-head").hidden = !hasRevenue;
    plot($("results-chart"), groups.map((g, i) => ({
      type: "bar", name: groupName(g, c), x: metrics.map(([, label]) => label), y: metrics.map(([key]) => g[key]),
      marker: { color: COLORS[i % COLORS.length] }, text: metrics.map(([key]) => String(g[key])), textposition: "auto",
      customdata: metrics.map(([key]) => (key === "sent" ? "" : ` (${pct(g.rates[key])} of sent)`)),
      hovertemplate: "%{fullData.name}, %{x}: %{y}%{customdata}<extra></extra>",
    })), {
      height: 300, barmode: "group", showlegend: true, yaxis: { rangemode: "tozero", automargin: true, fixedrange: true },
      xaxis: { fixedrange: true, automargin: true }, legend: { orientation: "h", x: 0, y: -0.18 },
    }, `Results: ${groups.map((g) => `${groupName(g, c)}: ${g.sent} sent, ${g.delivered} delivered, ${g.read} read, `
      + `${g.replied} replied, ${g.converted} converted`).join("; ")}`);
    const cell = (g, key) => el("td", { class: "num" }, n(g[key]), key !== "sent" && key !== "failed" && g.sent
      ? el("span", { class: "muted small" }, ` ${pct(g.rates[key])}`) : null);
    $("results-body").replaceChildren(...groups.map((g) => el("tr", {},
      el("th", { scope: "row" }, groupName(g, c)), cell(g, "sent"), cell(g, "delivered"), cell(g, "read"),
      cell(g, "replied"), cell(g, "converted"), cell(g, "failed"),
      hasRevenue ? el("td", { class: "num" }, money(g.revenue, page.currency)) : null)));
  }

  function testSentence(test, winner) {
    const t = winner.test;
    const best = test.variants.find((v) => v.variant === winner.variant);
    let text = `Variant ${VARIANT(winner.variant)} leads: ${pct(best.reply_rate)} replied (${n(best.replied)} of ${n(best.sent)})`;
    if (!t) return { text: `${text}.`, significant: null };
    const other = test.variants.find((v) => v.variant === t.against);
    if (!other.sent) return { text: `${text}; variant ${VARIANT(t.against)} has no message sent yet: nothing to compare.`, significant: null };
    text += ` against ${pct(other.reply_rate)} for variant ${VARIANT(t.against)} (${n(other.replied)} of ${n(other.sent)}). `
      + `Two-proportion z-test: z = ${t.z}, p = ${t.p_value}`;
    return { text, significant: t.significant_at_5pct };
  }

  function renderTest(c, d) {
    const box = $("test");
    if (c.kind !== "campaign" || !c.test_fraction) { box.hidden = true; return; }
    box.hidden = false;
    const promote = $("promote");
    const text = $("test-text");
    if (d.promotion) {
      const winner = d.promotion.winner;
      const said = testSentence(d.promotion, winner);
      text.replaceChildren(`Promoted ${clock(d.promotion.promoted_at)}: variant ${VARIANT(winner.variant)} went to the rest of the audience. `,
        said.text, said.significant === null ? "" : el("span", { class: said.significant ? "significant" : "not-significant" },
          said.significant ? " — significant at 5%." : " — not significant at 5%."));
      promote.disabled = true;
      promote.textContent = "Promoted";
      return;
    }
    promote.textContent = "Promote";
    const test = d.test;
    if (!test || !test.winner) {
      text.textContent = "The test group has no message sent yet: Run sends this campaign to the test group first.";
      promote.disabled = true;
      return;
    }
    const said = testSentence(test, test.winner);
    text.replaceChildren(said.text, said.significant === null
      ? (test.variants.length === 1 ? " Only one variant: Promote sends it to the rest of the audience." : "")
      : el("span", { class: said.significant ? "significant" : "not-significant" },
        said.significant ? " — significant at 5%." : " — not significant at 5%: the difference may be chance."));
    promote.disabled = false;
  }

  $("promote").addEventListener("click", async () => {
    const c = state.campaign, d = state.detail;
    if (!c || !d || !d.test || !d.test.winner) return;
    const winner = d.test.winner;
    const caution = winner.test && !winner.test.significant_at_5pct
      ? " The test is not significant at 5%: the lead may be chance." : "";
    const ok = await confirmAction({
      title: `Promote variant ${VARIANT(winner.variant)} of ${c.name}?`,
      text: `Variant ${VARIANT(winner.variant)} (${pct(winner.reply_rate)} replied) goes now to the rest of the audience: `
        + `everyone not in the test group who may get a message.${caution} Messages cannot be called back.`,
      ok: "Promote now", returnFocus: $("promote"),
    });
    if (!ok) return;
    $("promote").disabled = true;
    const result = await api("POST", `${baseOf(c)}/promote`, { confirm: true });
    if (state.campaign !== c) return;
    const status = $("test-text");
    if (!result.ok) { status.textContent = C.errorText(result); $("promote").disabled = false; return; }
    const rest = result.data.rest;
    $("preview-status").textContent = `Promoted: run ${rest.run_id}, ${n(rest.queued)} queued, ${n(rest.deferred)} for later.`;
    $("preview-status").className = "status ok";
    watchRun(c, rest.run_id);
    loadPreview(c);
  });

  // ------------------------------------------------------------ store automations, per step

  const AUTOMATIONS = {
    abandoned_checkout: "Abandoned checkout", order_confirmed: "Order confirmed", order_shipped: "Order shipped",
    order_delivered: "Order delivered", cod_confirmation: "Cash on delivery confirmation",
  };
  const STEP_NAMES = { question: "Question", reminder: "Reminder", message: "Message" };
  const AUTOMATION_METRICS = [["sent", "Sent"], ["delivered", "Delivered"], ["read", "Read"], ["replied", "Replied"],
                              ["converted", "Converted"]];

  function duration(minutes) {
    if (minutes % 1440 === 0) return `${minutes / 1440} ${minutes === 1440 ? "day" : "days"}`;
    if (minutes % 60 === 0) return `${minutes / 60} h`;
    return `${minutes} min`;
  }

  function stepName(step) {
    return STEP_NAMES[step.name] || step.name.charAt(0).toUpperCase() + step.name.slice(1);
  }

  function stepTitle(step) {
    return step.after_minutes ? `${stepName(step)} · after ${duration(step.after_minutes)}` : stepName(step);
  }

  function stepCell(step) {
    return el("th", { scope: "row" }, stepName(step),
      step.after_minutes ? el("span", { class: "muted small" }, ` after ${duration(step.after_minutes)}`) : null);
  }

  function automationRow(head, counts, currency, total) {
    const cell = (key) => el("td", { class: "num" }, n(counts[key]), key !== "sent" && counts.sent
      ? el("span", { class: "muted small" }, ` ${pct(counts.rates[key])}`) : null);
    return el("tr", { class: total ? "total" : null }, head,
      ...AUTOMATION_METRICS.map(([key]) => cell(key)),
      el("td", { class: "num" }, money(Number(counts.revenue || 0), currency)),
      counts.estimated_cost ? costCell(counts.estimated_cost) : null);
  }

  // What the step's sent messages cost, each priced when it was sent (docs/pricing.md), in the rate
  // card's currency; how many went free beside it.
  function costCell(cost) {
    return el("td", { class: "num" }, money(Number(cost.total || 0), cost.currency),
      cost.free ? el("span", { class: "muted small" }, ` ${n(cost.free)} free`) : null);
  }

  function automationNote(a) {
    const t = a.total;
    if (!t.sent && !t.planned && !t.deferred) return "Nothing sent yet.";
    const parts = [`${n(t.sent)} sent`];
    if (t.failed) parts.push(`${n(t.failed)} failed`);
    if (t.pending) parts.push(`${n(t.pending)} waiting to be sent`);
    if (t.deferred) parts.push(`${n(t.deferred)} deferred (quiet hours or tier)`);
    if (t.cancelled) parts.push(`${n(t.cancelled)} called off`);
    return `${parts.join(", ")}; ${n(t.orders)} order${t.orders === 1 ? "" : "s"} followed.`;
  }

  function automationPanel(a, currency) {
    const id = `automation-${a.automation}`;
    const title = AUTOMATIONS[a.automation] || a.automation;
    const rows = a.steps.map((step) => automationRow(stepCell(step), step, currency, false));
    if (a.steps.length > 1) rows.push(automationRow(el("th", { scope: "row" }, "Total"), a.total, currency, true));
    const head = el("tr", {}, el("th", { scope: "col" }, "Step"),
      ...AUTOMATION_METRICS.map(([, label]) => el("th", { scope: "col", class: "num" }, label)),
      el("th", { scope: "col", class: "num" }, "Revenue"),
      a.total.estimated_cost ? el("th", { scope: "col", class: "num" }, "Cost") : null);
    return el("article", { class: "panel automation", id, "data-automation": a.automation, "aria-labelledby": `${id}-title` },
      el("h3", { id: `${id}-title`, class: "title" }, title),
      el("p", { class: "muted small" }, automationNote(a)),
      a.total.sent ? el("div", { id: `${id}-chart`, class: "chart", role: "img", "aria-labelledby": `${id}-title` }) : null,
      el("div", { class: "table-wrap" }, el("table", { class: "table" },
        el("caption", { class: "visually-hidden" }, `${title}: results per step`),
        el("thead", {}, head), el("tbody", {}, ...rows))));
  }

  function drawAutomation(a) {
    const node = $(`automation-${a.automation}-chart`);
    if (!node) return;
    const title = AUTOMATIONS[a.automation] || a.automation;
    plot(node, a.steps.map((step, i) => ({
      type: "bar", name: stepTitle(step), x: AUTOMATION_METRICS.map(([, label]) => label),
      y: AUTOMATION_METRICS.map(([key]) => step[key]), marker: { color: COLORS[i % COLORS.length] },
      text: AUTOMATION_METRICS.map(([key]) => String(step[key])), textposition: "auto",
      customdata: AUTOMATION_METRICS.map(([key]) => (key === "sent" ? "" : ` (${pct(step.rates[key])} of sent)`)),
      hovertemplate: "%{fullData.name}, %{x}: %{y}%{customdata}<extra></extra>",
    })), {
      height: 260, barmode: "group", showlegend: a.steps.length > 1,
      yaxis: { rangemode: "tozero", automargin: true, fixedrange: true }, xaxis: { fixedrange: true, automargin: true },
      legend: { orientation: "h", x: 0, y: -0.2 },
    }, `${title}: ${a.steps.map((s) => `${stepTitle(s)}: ${s.sent} sent, ${s.delivered} delivered, ${s.read} read, `
      + `${s.replied} replied, ${s.converted} converted`).join("; ")}`);
  }

  async function loadAutomations() {
    const status = $("automations-status");
    const result = await api("GET", "/api/automations");
    if (!result.ok) { status.textContent = C.errorText(result); status.className = "status error"; return; }
    status.textContent = "";
    status.className = "status";
    const data = result.data;
    $("automations-empty").hidden = data.automations.length > 0;
    $("automation-list").replaceChildren(...data.automations.map((a) => automationPanel(a, data.currency)));
    data.automations.forEach(drawAutomation);
  }

  if (token) { signIn(token); } else { $("token").focus(); }
})();
