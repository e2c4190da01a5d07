// The portal's one script: sign-in (a browser wallet through EIP-1193, or a signature pasted from
// the person's own tool), table filters, on-demand proof checks, the live feed (server-sent events).
"use strict";

function $(id) { return document.getElementById(id); }

function say(text) { const s = $("signin-status"); if (s) s.textContent = text; }

async function challenge(address) {
  const r = await fetch("/auth/challenge?address=" + encodeURIComponent(address));
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body.message;
}

async function finish(message, signature) {
  const r = await fetch("/auth/signin", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ message: message, signature: signature }),
    credentials: "same-origin",
  });
  const body = await r.json();
  if (!r.ok) { say("Refused: " + body.error); return; }
  say("Signed in as " + body.address);
  window.location.assign(body.home);
}

function hexOf(text) {
  return "0x" + Array.from(new TextEncoder().encode(text))
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function walletSignIn() {
  if (!window.ethereum) { say("No browser wallet found: use the form below."); return; }
  try {
    const [address] = await window.ethereum.request({ method: "eth_requestAccounts" });
    const message = await challenge(address);
    const signature = await window.ethereum.request({
      method: "personal_sign", params: [hexOf(message), address],
    });
    await finish(message, signature);
  } catch (e) { say("Sign-in failed: " + e.message); }
}

function setupSignIn() {
  if (!$("wallet-signin")) return;
  $("wallet-signin").addEventListener("click", walletSignIn);
  $("get-message").addEventListener("click", async () => {
    try { $("message").value = await challenge($("address").value.trim()); }
    catch (e) { say("Cannot sign in: " + e.message); }
  });
  $("send-signature").addEventListener("click",
    () => finish($("message").value, $("signature").value.trim()));
}

function setupFilters() {
  document.querySelectorAll("input.filter").forEach((input) => {
    input.addEventListener("input", () => {
      const needle = input.value.toLowerCase();
      $(input.dataset.table).querySelectorAll("tr.record").forEach((row) => {
        row.hidden = needle !== "" && !row.textContent.toLowerCase().includes(needle);
      });
    });
  });
}

function setupVerify() {
  document.querySelectorAll("button.verify").forEach((button) => {
    button.addEventListener("click", async () => {
      const out = button.nextElementSibling;
      out.textContent = " checking…";
      const r = await fetch(button.dataset.url, { method: "POST", credentials: "same-origin" });
      const body = await r.json();
      out.className = "result " + (body.ok ? "ok" : "bad");
      out.textContent = body.ok ? " verified against the anchored root" : " FAILED: " + body.reason;
    });
  });
}

function setupFeed() {
  const list = $("feed");
  if (!list) return;
  const source = new EventSource(list.dataset.source);
  source.onopen = () => { $("feed-state").textContent = "live"; };
  source.onerror = () => { $("feed-state").textContent = "reconnecting…"; };
  source.addEventListener("chain", (msg) => {
    const e = JSON.parse(msg.data);
    const args = Object.entries(e.args).map(([k, v]) => k + "=" + short(String(v))).join(", ");
    const li = document.createElement("li");
    li.className = "live";
    li.textContent = e.text || ("block " + e.block + " · " + e.line + " · " + e.contract + " · " +
      e.event + "(" + args + ")");
    list.appendChild(li);
  });
}

function short(v) { return v.length === 42 ? v.slice(0, 6) + "…" + v.slice(-4) : v; }

document.addEventListener("DOMContentLoaded", () => {
  setupSignIn(); setupFilters(); setupVerify(); setupFeed();
});
