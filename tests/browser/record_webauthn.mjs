// Records the WebAuthn vectors of tests/unit/test_webauthn.c from
// Chromium's virtual authenticator (DevTools WebAuthn domain): one
// registration and two sign-ins for each of ES256, EdDSA and RS256, on
// http://localhost:18080 with fixed challenges. Prints a C header.
//
//   node tests/browser/record_webauthn.mjs > tests/unit/webauthn_vectors.h

import http from "node:http";
import { launch } from "./browser.mjs";

const PORT = 18080;
const server = http.createServer((req, res) => {
    res.writeHead(200, { "Content-Type": "text/html" });
    res.end("<!doctype html><title>vectors</title>");
});
await new Promise((ok) => server.listen(PORT, "127.0.0.1", ok));

const browser = await launch();
const page = await (await browser.newContext()).newPage();
await page.goto(`http://localhost:${PORT}/`);
const cdp = await page.context().newCDPSession(page);
await cdp.send("WebAuthn.enable");

function fill(n, v) { return Array(n).fill(v); }

const out = [];
for (const [name, alg] of [["es256", -7], ["eddsa", -8], ["rs256", -257]]) {
    const { authenticatorId } = await cdp.send(
        "WebAuthn.addVirtualAuthenticator", { options: {
            protocol: "ctap2", transport: "internal",
            hasResidentKey: true, hasUserVerification: true,
            isUserVerified: true, automaticPresenceSimulation: true } });
    const rec = await page.evaluate(async ({ alg, reg, a1, a2 }) => {
        const b = (x) => btoa(String.fromCharCode(...new Uint8Array(x)))
            .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
        const c = await navigator.credentials.create({ publicKey: {
            challenge: new Uint8Array(reg),
            rp: { id: "localhost", name: "Guichet" },
            user: { id: new Uint8Array(16).fill(7), name: "vec@example.com",
                    displayName: "vec@example.com" },
            pubKeyCredParams: [{ type: "public-key", alg }],
            attestation: "none",
            authenticatorSelection: { residentKey: "required",
                                      userVerification: "required" } } });
        const out = { id: b(c.rawId),
            att: b(c.response.attestationObject),
            cdj: b(c.response.clientDataJSON),
            transports: c.response.getTransports().join(",") };
        for (const [k, ch] of [["a1", a1], ["a2", a2]]) {
            const a = await navigator.credentials.get({ publicKey: {
                challenge: new Uint8Array(ch), rpId: "localhost",
                userVerification: "required" } });
            out[k] = { id: b(a.rawId),
                ad: b(a.response.authenticatorData),
                cdj: b(a.response.clientDataJSON),
                sig: b(a.response.signature),
                uh: b(a.response.userHandle) };
        }
        return out;
    }, { alg, reg: fill(32, 1), a1: fill(32, 2), a2: fill(32, 3) });
    out.push([name, rec]);
    await cdp.send("WebAuthn.removeVirtualAuthenticator",
                   { authenticatorId });
}
await browser.close();
server.close();

const s = (k, v) => `#define ${k} \\\n`
    + (v.match(/.{1,64}/g) || [""]).map((p) => `    "${p}"`).join(" \\\n")
    + "\n";
let h = "/* Recorded by tests/browser/record_webauthn.mjs from Chromium's\n"
    + " * virtual authenticator; origin http://localhost:18080, RP ID\n"
    + " * localhost, challenges 32 x 0x01 (registration), 0x02, 0x03. */\n\n";
for (const [n, r] of out) {
    const N = n.toUpperCase();
    h += s(`VEC_${N}_ID`, r.id) + s(`VEC_${N}_ATT`, r.att)
        + s(`VEC_${N}_REG_CDJ`, r.cdj) + s(`VEC_${N}_TRANSPORTS`, r.transports);
    for (const k of ["a1", "a2"]) {
        const K = k.toUpperCase();
        h += s(`VEC_${N}_${K}_AD`, r[k].ad) + s(`VEC_${N}_${K}_CDJ`, r[k].cdj)
            + s(`VEC_${N}_${K}_SIG`, r[k].sig) + s(`VEC_${N}_${K}_UH`, r[k].uh);
    }
    h += "\n";
}
process.stdout.write(h);
