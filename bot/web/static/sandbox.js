const picker = document.getElementById("customer");
const log = document.getElementById("log");
const status = document.getElementById("status");
let shown = "";

function say(text) { status.textContent = text; }

async function loadCustomers(select) {
  const response = await fetch("sandbox/api/customers");
  const { customers } = await response.json();
  const current = select || picker.value;
  picker.innerHTML = "";
  for (const c of customers) picker.add(new Option(`${c.name} (+${c.wa_id})`, c.wa_id));
  if (current && ![...picker.options].some(o => o.value === current)) picker.add(new Option(`+${current}`, current));
  if (current) picker.value = current;
  if (!picker.value && picker.options.length) picker.selectedIndex = 0;
}

function bubble(item) {
  const div = document.createElement("div");
  div.className = `msg ${item.from}`;
  div.append(item.text);
  if (item.choices && item.choices.length) {
    const box = document.createElement("div");
    box.className = "choices";
    for (const choice of item.choices) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = choice.title;
      button.addEventListener("click", () => send({ reply_id: choice.id, title: choice.title, list: item.list }));
      box.append(button);
    }
    div.append(box);
  }
  const time = document.createElement("span");
  time.className = "time";
  time.textContent = new Date(item.at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  div.append(time);
  return div;
}

async function refresh() {
  const waId = picker.value;
  if (!waId) { log.innerHTML = '<p class="empty">Add a customer number to start chatting.</p>'; return; }
  const response = await fetch(`sandbox/api/conversation?wa_id=${encodeURIComponent(waId)}`);
  const { conversation } = await response.json();
  const signature = waId + ":" + JSON.stringify(conversation);
  if (signature === shown) return;
  shown = signature;
  log.replaceChildren(...(conversation.length ? conversation.map(bubble)
      : [Object.assign(document.createElement("p"), { className: "empty", textContent: "No messages yet. Say hi!" })]));
  log.scrollTop = log.scrollHeight;
}

async function send(body) {
  const waId = picker.value;
  if (!waId) { say("Choose or add a customer first."); return; }
  const response = await fetch("sandbox/api/send", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ wa_id: waId, ...body }),
  });
  if (!response.ok) { say((await response.json()).error || "Could not send"); return; }
  say("Sent; waiting for the bot…");
  setTimeout(() => say(""), 1500);
  refresh();
}

document.getElementById("composer").addEventListener("submit", event => {
  event.preventDefault();
  const input = document.getElementById("message");
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  send({ text });
});
document.getElementById("add").addEventListener("click", async () => {
  const input = document.getElementById("new-number");
  const number = input.value.replace(/[^0-9]/g, "");
  if (number.length < 6) { say("Enter a phone number in international format, digits only."); return; }
  input.value = "";
  await loadCustomers(number);
  refresh();
});
picker.addEventListener("change", refresh);
loadCustomers().then(refresh);
setInterval(refresh, 700);
setInterval(() => loadCustomers(), 5000);
