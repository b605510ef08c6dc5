// The agent console: a thin client of the agent API (/api/conversations...). No build step.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const TOKEN_KEY = "wabot.agentToken";
  const templates = JSON.parse($("templates-data").textContent || "[]");
  let token = sessionStorage.getItem(TOKEN_KEY) || "";
  let agent = "";
  let current = null; // wa_id of the open conversation
  let detail = null; // its last loaded detail
  let lastTranscriptKey = "";

  const { el, ago, clock, chip, reasonText, bySegmentPriority, LANGUAGE_SOURCES, AUTHORS, bubble } = window.WabotConsole;
  const api = window.WabotConsole.client(() => token, () => signOut("Your token was not accepted. Sign in again."));

  // ------------------------------------------------------------ time

  function countdown(iso) {
    if (!iso) return { open: false, text: "No message from this customer yet: templates only" };
    const left = Math.floor((Date.parse(iso) - Date.now()) / 1000);
    if (left <= 0) return { open: false, text: `Window closed ${ago(iso)}: templates only` };
    const h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
    const pad = (n) => String(n).padStart(2, "0");
    return { open: true, text: `Window closes in ${h}:${pad(m)}:${pad(s)}`, urgent: left < 3600 };
  }

  // ------------------------------------------------------------ sign in

  function signOut(message) {
    token = "";
    sessionStorage.removeItem(TOKEN_KEY);
    $("app").hidden = true;
    $("who").hidden = true;
    $("sign-in").hidden = false;
    $("sign-in-error").textContent = message || "";
    $("token").focus();
  }

  async function signIn(candidate) {
    token = candidate;
    const result = await api("GET", "/api/conversations?state=pending,agent");
    if (!result.ok) {
      signOut(result.status === 401 ? "That token was not accepted." : "The server did not answer; try again.");
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    await whoAmI();
    $("sign-in").hidden = true;
    $("app").hidden = false;
    $("who").hidden = false;
    renderQueue(result.data);
    const firstConversation = document.querySelector(".conv-list button");
    (firstConversation || $("conversation")).focus();
  }

  $("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("token").value.trim();
    if (!value) { $("sign-in-error").textContent = "Enter your token."; return; }
    signIn(value);
  });
  $("sign-out").addEventListener("click", () => signOut(""));

  // ------------------------------------------------------------ the queue

  // Who wrote the last message shown in the queue: the bot's words are the bot's, the agent's own are "You".
  function byline(entry) {
    if (entry.last_message_direction !== "out") return null;
    const by = entry.last_message_by || { kind: "bot" };
    const who = by.kind === "agent" ? (by.agent === agent ? "You" : by.agent || "Agent") : AUTHORS[by.kind] || "Bot";
    return el("span", { class: "by" }, `${who}: `);
  }

  function queueItem(entry) {
    const id = `meta-${entry.wa_id}`;
    const mine = entry.state === "agent" && entry.agent === agent;
    const button = el("button", {
      type: "button", class: "conv-open", "aria-describedby": id,
      "aria-current": entry.wa_id === current ? "true" : null,
    }, entry.name);
    button.addEventListener("click", () => openConversation(entry.wa_id, true));
    const window = countdown(entry.window_expires_at);
    const meta = el("div", { class: "meta", id },
      el("div", { class: "chips" },
        entry.priority_segment ? chip(entry.priority_segment) : null,
        entry.state === "agent" ? el("span", { class: `chip ${mine ? "chip-mine" : "chip-other"}` },
          mine ? "yours" : `with ${entry.agent}`) : null,
        window.open ? null : el("span", { class: "chip chip-closed" }, "window closed")),
      el("p", { class: "last" }, byline(entry), entry.last_message || ""),
      el("p", { class: "muted small" },
        entry.state === "pending" ? `waiting since ${ago(entry.waiting_since)}` : `last agent activity ${ago(entry.waiting_since)}`));
    return el("li", { class: `conv-item${entry.wa_id === current ? " current" : ""}` }, button, meta);
  }

  function renderQueue(entries) {
    const pending = entries.filter((e) => e.state === "pending");
    const claimed = entries.filter((e) => e.state === "agent");
    for (const [list, items, empty, count] of [["pending-list", pending, "pending-empty", "pending-count"],
                                               ["claimed-list", claimed, "claimed-empty", "claimed-count"]]) {
      const focusedId = document.activeElement && document.activeElement.closest(`#${list}`)
        ? document.activeElement.getAttribute("aria-describedby") : null;
      $(list).replaceChildren(...items.map(queueItem));
      $(empty).hidden = items.length > 0;
      $(count).textContent = items.length;
      if (focusedId) {
        const again = document.querySelector(`[aria-describedby="${CSS.escape(focusedId)}"]`);
        if (again) again.focus();
      }
    }
    document.title = `${pending.length ? `(${pending.length}) ` : ""}Agent console`;
  }

  async function refreshQueue() {
    if (!token) return;
    const result = await api("GET", "/api/conversations?state=pending,agent");
    if (result.ok) renderQueue(result.data);
  }

  // ------------------------------------------------------------ one conversation

  function setStatus(text, kind) {
    const status = $("conv-status");
    status.textContent = text || "";
    status.className = `status ${kind || ""}`;
  }

  function renderTranscript(items) {
    const key = JSON.stringify(items.map((i) => [i.direction, i.at, i.text, i.state]));
    if (key === lastTranscriptKey) return;
    lastTranscriptKey = key;
    const log = $("transcript");
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    log.replaceChildren(...items.map((item) => bubble(item, detail ? detail.name : "", agent)));
    if (atBottom || items.length < 30) log.scrollTop = log.scrollHeight;
  }

  function money(value) {
    return value === null || value === undefined ? "—" : `${value} ${detail ? detail.currency : ""}`;
  }

  // A cash-on-delivery order's confirmation, as the customer answered it (docs/automations.md).
  function codText(c) {
    if (c.state === "awaiting") return `Cash on delivery: asked ${ago(c.asked_at)}, no answer yet`;
    const tag = c.tag ? ` · tag ${c.tag} ${c.tag_state === "done" ? "added in Shopify" : c.tag_state === "failed" ? "could not be added" : "being added"}` : "";
    return `Cash on delivery: ${c.state} by the customer ${ago(c.answered_at)}${tag}`;
  }

  function renderProfile(d) {
    const a = d.attributes;
    const facts = [["Orders", a.orders_count], ["Total spent", money(a.total_spent)], ["AOV", money(d.aov)],
                   ["Last order", a.last_order_at ? `${ago(a.last_order_at)}` : "—"],
                   ["Country", a.country || "—"],
                   ["Language", d.language ? `${d.language.name} (${LANGUAGE_SOURCES[d.language.source] || d.language.source})` : "—"],
                   ["Marketing", a.opted_out ? "opted out" : a.marketing_paused ? "paused in WhatsApp" : "allowed"]];
    for (const [name, info] of Object.entries(a.custom || {})) facts.push([name, `${info.value ?? "—"} (${info.source})`]);
    if (a.tags && a.tags.length) facts.push(["Tags", a.tags.join(", ")]);
    $("facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
    $("segments").replaceChildren(...(d.segments.length ? [...d.segments].sort(bySegmentPriority).map((s) =>
      el("li", {}, chip(s.segment), el("span", { class: "reason" }, reasonText(s.reason))))
      : [el("li", { class: "muted" }, "In no segment yet")]));
    $("orders").replaceChildren(...(d.orders.length ? d.orders.map((o) =>
      el("li", {},
        el("div", { class: "order-head" }, el("strong", {}, o.name), ` ${o.total_price} ${o.currency || ""}`,
          el("span", { class: `badge status-${o.status.replace(/ /g, "-")}` }, o.status)),
        el("p", { class: "muted small" }, clock(o.created_at)),
        el("p", { class: "small" }, o.items.map((i) => `${i.quantity} × ${i.title}${i.variant_title ? ` (${i.variant_title})` : ""}`).join(", ")),
        o.cod ? el("p", { class: "small cod" }, codText(o.cod)) : null,
        /^https?:\/\//i.test(o.tracking_url || "")
          ? el("a", { href: o.tracking_url, target: "_blank", rel: "noopener noreferrer" }, "Tracking") : null))
      : [el("li", { class: "muted" }, "No orders")]));
    $("history").replaceChildren(...d.handoff_log.map((h) =>
      el("li", { class: "small" }, `${clock(h.at)}: ${h.from} → ${h.to} by ${h.actor}${h.reason ? ` (${h.reason})` : ""}`)));
  }

  function renderTemplatePicker() {
    const select = $("template");
    if (select.options.length) return;
    if (!templates.length) {
      select.append(el("option", { value: "" }, "No templates configured"));
    }
    templates.forEach((t, index) => select.append(el("option", { value: index }, `${t.name} (${t.language})`)));
    renderTemplateParams();
  }

  function renderTemplateParams() {
    const t = templates[Number($("template").value)];
    const fields = (t ? t.body : []).map((placeholder, index) => {
      const id = `param-${index}`;
      const prefill = detail && placeholder === "{first_name}" ? (detail.first_name || "") : "";
      return el("div", { class: "param" },
        el("label", { for: id }, `Parameter ${index + 1}`, el("span", { class: "muted" }, ` ${placeholder}`)),
        Object.assign(el("input", { id, type: "text", required: true }), { value: prefill }));
    });
    $("template-params").replaceChildren(...fields);
  }
  $("template").addEventListener("change", renderTemplateParams);

  function renderWindow() {
    if (!detail) return;
    const w = countdown(detail.window_expires_at);
    $("window").textContent = w.text;
    $("window").className = `window ${w.open ? (w.urgent ? "urgent" : "open") : "closed"}`;
    const showTemplates = !w.open;
    if ($("template-form").hidden !== !showTemplates) {
      $("template-form").hidden = !showTemplates;
      $("reply-form").hidden = showTemplates;
      if (showTemplates) renderTemplatePicker();
    }
  }

  function renderConversation(d) {
    detail = d;
    $("no-conversation").hidden = true;
    $("conv").hidden = false;
    $("conv-title").textContent = d.name;
    $("conv-wa").textContent = window.WabotConsole.address(d.wa_id);
    const stateText = d.state === "agent" ? (d.agent === agent ? "claimed by you" : `claimed by ${d.agent}`)
      : d.state === "pending" ? "waiting for an agent" : "the bot is answering";
    $("conv-state").textContent = stateText;
    $("conv-state").className = `badge state-${d.state}`;
    $("claim").disabled = d.state === "agent" && d.agent === agent;
    $("release").disabled = d.state === "bot" || (d.state === "agent" && d.agent !== agent);
    renderTranscript(d.transcript);
    renderProfile(d);
    renderWindow();
  }

  async function openConversation(waId, focus) {
    if (waId !== current) { lastTranscriptKey = ""; setStatus(""); $("reply").value = ""; }
    current = waId;
    const result = await api("GET", `/api/conversations/${encodeURIComponent(waId)}`);
    if (!result.ok) { setStatus("Could not load this conversation.", "error"); return; }
    renderConversation(result.data);
    document.querySelectorAll(".conv-item").forEach((li) => {
      const open = li.querySelector("button").getAttribute("aria-describedby") === `meta-${waId}`;
      li.classList.toggle("current", open);
      li.querySelector("button").setAttribute("aria-current", open ? "true" : "false");
    });
    if (focus) $("conv-title").focus?.();
  }

  async function act(path, body, done) {
    const result = await api("POST", `/api/conversations/${encodeURIComponent(current)}/${path}`, body);
    if (result.ok) {
      if (result.data && result.data.agent) agent = result.data.agent;
      $("agent-name").textContent = agent;
      setStatus(done, "ok");
    } else {
      const data = result.data || {};
      setStatus(data.error === "window_closed" ? "The 24-hour window is closed: send a template instead."
        : data.message || `Failed (${result.status})`, "error");
    }
    await Promise.all([openConversation(current, false), refreshQueue()]);
    return result.ok;
  }

  $("claim").addEventListener("click", () => act("claim", null, "You have this conversation. The bot stays silent."));
  $("release").addEventListener("click", () => act("release", null, "Released: the bot answers again."));

  $("reply-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("reply").value.trim();
    if (!text) { setStatus("Type a reply first.", "error"); $("reply").focus(); return; }
    if (await act("messages", { text }, "Sent.")) $("reply").value = "";
    $("reply").focus();
  });
  $("reply").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      $("reply-form").requestSubmit();
    }
  });

  $("template-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const t = templates[Number($("template").value)];
    if (!t) { setStatus("No template to send: add one to wabot.toml.", "error"); return; }
    const body = [...$("template-params").querySelectorAll("input")].map((input) => input.value.trim());
    if (body.some((v) => !v)) { setStatus("Fill in every parameter.", "error"); return; }
    await act("messages", { template: { name: t.name, language: t.language, body } }, "Template sent.");
  });

  async function whoAmI() {
    const result = await api("GET", "/api/agent");
    if (result.ok && result.data) { agent = result.data.agent; $("agent-name").textContent = agent; }
  }

  // ------------------------------------------------------------ loops

  setInterval(() => { if (token) refreshQueue(); }, 5000);
  setInterval(() => { if (token && current) openConversation(current, false); }, 5000);
  setInterval(renderWindow, 1000);

  if (token) { signIn(token); } else { $("token").focus(); }
})();
