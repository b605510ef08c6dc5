// What both consoles (/agent and /admin) share: building elements, a bearer-token API client,
// times, segment names and chips, the reasons behind a segment, and chat bubbles. No build step.
"use strict";

window.WabotConsole = (() => {
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // A JSON client for one bearer token; `onUnauthorized` runs when the server refuses it.
  function client(getToken, onUnauthorized) {
    return async function api(method, path, body) {
      let response;
      try {
        response = await fetch(path, {
          method,
          headers: Object.assign({ Authorization: `Bearer ${getToken()}` },
            body ? { "Content-Type": "application/json" } : {}),
          body: body ? JSON.stringify(body) : undefined,
        });
      } catch (_) {
        return { ok: false, status: 0, data: { error: "the server did not answer; try again" } };
      }
      let data = null;
      try { data = await response.json(); } catch (_) { data = null; }
      if (response.status === 401 && onUnauthorized) onUnauthorized();
      return { ok: response.ok, status: response.status, data };
    };
  }

  function errorText(result) {
    const data = result.data || {};
    return data.message || data.error || `failed (HTTP ${result.status})`;
  }

  function ago(iso) {
    if (!iso) return "";
    const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (seconds < 60) return "just now";
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
    if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
    return `${Math.floor(seconds / 86400)} d ago`;
  }

  function clock(iso) {
    return iso ? new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) : "";
  }

  const SEGMENT_LABELS = { vip: "VIP", former_vip: "Former VIP", aov_low: "AOV low", aov_mid: "AOV mid",
                           aov_high: "AOV high" };
  const SEGMENT_ORDER = ["vip", "former_vip", "loyal", "repeat_buyer", "sale_shopper", "first_time_buyer"];

  function segmentLabel(segment) {
    const words = String(segment).replace(/_/g, " ");
    return SEGMENT_LABELS[segment] || words.charAt(0).toUpperCase() + words.slice(1);
  }

  function bySegmentPriority(a, b) {
    const rank = (s) => { const i = SEGMENT_ORDER.indexOf(s); return i < 0 ? SEGMENT_ORDER.length : i; };
    return rank(a.segment) - rank(b.segment) || a.segment.localeCompare(b.segment);
  }

  function chip(segment) {
    return el("span", { class: `chip chip-${segment}` }, segmentLabel(segment));
  }

  function reasonText(reason) {
    if (!reason || typeof reason !== "object") return "";
    return Object.entries(reason)
      .map(([k, v]) => `${k.replace(/_/g, " ")}: ${Array.isArray(v) ? v.join(", ") : v}`).join("; ");
  }

  // Where a customer's language came from (docs/languages.md), as a person would say it.
  const LANGUAGE_SOURCES = { choice: "chosen in chat", messages: "from their messages",
                             locale: "from their Shopify locale", country: "from their phone's country",
                             default: "the store's default" };

  const AUTHORS = { reply: "Bot", bot: "Bot", campaign: "Campaign", reorder: "Reorder prompt" };

  // One transcript item (bot/conversation/inbox.py) as a chat bubble; `me` is the signed-in agent.
  function bubble(item, customerName, me) {
    const who = item.direction === "in" ? customerName || "Customer"
      : item.kind === "agent" ? (me && item.agent === me ? `You (${me})` : item.agent || "Agent")
        : AUTHORS[item.kind] || item.kind;
    const extra = item.direction === "in"
      ? (item.intent ? `intent ${item.intent}` : "")
      : [item.state, item.error].filter(Boolean).join(" · ");
    return el("li", { class: `msg ${item.direction} kind-${item.kind || "customer"}` },
      el("div", { class: "bubble" },
        el("span", { class: "author" }, who),
        el("p", { class: "text" }, item.text || ""),
        el("span", { class: "when" }, clock(item.at), extra ? ` · ${extra}` : "")));
  }

  // A customer's address as people read it: a phone number with its "+", a username customer's
  // business-scoped user id ("BR.1234…") as it is (docs/usernames.md).
  function address(waId) {
    if (!waId) return "";
    return /^[0-9]+$/.test(waId) ? `+${waId}` : `username · ${waId}`;
  }

  return { el, client, errorText, ago, clock, segmentLabel, bySegmentPriority, chip, reasonText,
           LANGUAGE_SOURCES, AUTHORS, bubble, address };
})();
