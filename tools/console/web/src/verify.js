// Verifying the ledger in the page: the checkpoint's Ed25519 signature (a C2SP signed note) against the public key
// the auditor pins, then each shown entry's inclusion (RFC 9162 audit path) in the signed tree: SHA-256 and
// Ed25519 from the browser's WebCrypto, nothing trusted from the server but the bytes it must prove.
const encoder = new TextEncoder();

function b64(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

function hex(bytes) {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function sha256(...parts) {
  const joined = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) { joined.set(part, at); at += part.length; }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", joined));
}

export function parseVkey(vkey) {
  // name "+" key id "+" base64 key: the name holds no "+", the base64 may
  const [name, keyIdHex, ...rest] = vkey.trim().split("+");
  const key = rest.join("+");
  const raw = b64(key);
  if (!name || !keyIdHex || raw.length !== 33 || raw[0] !== 1) throw new Error("not an Ed25519 verifier key");
  return { name, keyId: keyIdHex, publicKey: raw.slice(1) };
}

export async function verifyCheckpoint(note, vkey) {
  const key = parseVkey(vkey);
  const split = note.indexOf("\n\n");
  if (split < 0) throw new Error("the note has no signature block");
  const text = note.slice(0, split + 1);
  const [origin, size, root] = text.split("\n");
  const signature = note.slice(split + 2).split("\n").find((line) => line.startsWith(`\u2014 ${key.name} `));
  if (!signature) throw new Error(`no signature by ${key.name}`);
  const blob = b64(signature.split(" ")[2]);
  if (hex(blob.slice(0, 4)) !== key.keyId) throw new Error("the signature names another key id");
  const publicKey = await crypto.subtle.importKey("raw", key.publicKey, { name: "Ed25519" }, false, ["verify"]);
  const valid = await crypto.subtle.verify({ name: "Ed25519" }, publicKey, blob.slice(4), encoder.encode(text));
  if (!valid) throw new Error("the checkpoint's signature does not verify");
  return { origin, size: Number(size), root: b64(root) };
}

export async function verifyInclusion(leafBytes, index, size, auditPath, root) {
  let fn = index;
  let sn = size - 1;
  let r = await sha256(new Uint8Array([0]), leafBytes);
  for (const sibling of auditPath) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = await sha256(new Uint8Array([1]), sibling, r);
      if (fn % 2 === 0) { while (fn % 2 === 0 && fn !== 0) { fn >>= 1; sn >>= 1; } }
    } else {
      r = await sha256(new Uint8Array([1]), r, sibling);
    }
    fn >>= 1; sn >>= 1;
  }
  return sn === 0 && hex(r) === hex(root);
}

async function getJson(url) {
  const response = await fetch(url, { credentials: "same-origin" });
  const body = await response.json();
  if (!response.ok) throw new Error(body.detail || response.statusText);
  return body;
}

function mark(element, ok, text) {
  // the element keeps its own classes (the summary's "verdict", a row's "proof"): only the outcome changes
  element.textContent = text;
  element.classList.remove("ok", "failed");
  element.classList.add(ok ? "ok" : "failed");
}

export function wireLedgerVerification(root) {
  for (const button of root.querySelectorAll?.("button[data-verify-ledger]") ?? []) {
    if (button.dataset.wired) continue;
    button.dataset.wired = "yes";
    button.addEventListener("click", async () => {
      const summary = document.getElementById("verify-summary");
      const vkey = document.getElementById("vkey").value;
      try {
        localStorage.setItem("conveyor.vkey", vkey);
        const { note } = await getJson(button.dataset.checkpoint);
        const checkpoint = await verifyCheckpoint(note, vkey);
        let proven = 0;
        for (const row of document.querySelectorAll("tr[data-index]")) {
          const index = Number(row.dataset.index);
          const cell = row.querySelector(".proof");
          if (index >= checkpoint.size) { mark(cell, true, "after the checkpoint"); continue; }
          const proof = await getJson(`${button.dataset.proofs}/${index}?size=${checkpoint.size}`);
          const ok = await verifyInclusion(b64(row.dataset.leaf), index, checkpoint.size,
                                           proof.audit_path.map((h) => Uint8Array.from(h.match(/../g), (x) => parseInt(x, 16))),
                                           checkpoint.root);
          mark(cell, ok, ok ? "included \u2713" : "NOT included");
          if (ok) proven += 1; else throw new Error(`entry ${index} is not in the signed tree`);
        }
        mark(summary, true, `checkpoint of ${checkpoint.size} entries signed by ${parseVkey(vkey).name}: ` +
                            `signature valid, ${proven} entries proven included`);
      } catch (error) {
        mark(summary, false, `verification FAILED: ${error.message}`);
      }
    });
    const stored = localStorage.getItem("conveyor.vkey");
    const input = document.getElementById("vkey");
    if (stored && input && !input.value) input.value = stored;
  }
}
