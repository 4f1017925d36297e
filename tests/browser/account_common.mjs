// Steps shared by the account scenarios: signing in, re-authenticating
// and TOTP codes computed the way an authenticator app does (RFC 6238,
// HMAC-SHA1, 30-second steps, 6 digits).

import crypto from "node:crypto";

export function base32Decode(text) {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let bits = 0, value = 0;
    const out = [];
    for (const c of text.replace(/[\s=]/g, "").toUpperCase()) {
        const i = alphabet.indexOf(c);
        if (i < 0) {
            throw new Error(`not base32: ${c}`);
        }
        value = (value << 5) | i;
        bits += 5;
        if (bits >= 8) {
            out.push((value >>> (bits - 8)) & 0xff);
            bits -= 8;
        }
    }
    return Buffer.from(out);
}

// The code of the time step "offset" steps after the current one.
export function totp(secret, offset = 0) {
    const step = Math.floor(Date.now() / 1000 / 30) + offset;
    const counter = Buffer.alloc(8);
    counter.writeBigUInt64BE(BigInt(step));
    const mac = crypto.createHmac("sha1", secret).update(counter).digest();
    const o = mac[mac.length - 1] & 0x0f;
    const n = (mac.readUInt32BE(o) & 0x7fffffff) % 1000000;
    return String(n).padStart(6, "0");
}

export async function signIn(page, url, email, password, target) {
    await page.goto(`${url}${target}`);
    await page.getByLabel(/email/i).fill(email);
    await page.getByLabel(/^password$/i).fill(password);
    await Promise.all([
        page.waitForURL((u) => !u.pathname.endsWith("/guichet/login"),
                        { waitUntil: "commit" }),
        page.getByRole("button", { name: /sign in/i }).click(),
    ]);
    await page.waitForLoadState();
}

export async function confirmPassword(page, password, code) {
    await page.getByLabel(/^password$/i).fill(password);
    if (code) {
        await page.getByLabel(/code from your authenticator/i).fill(code);
    }
    await page.getByRole("button", { name: /confirm/i }).click();
}
