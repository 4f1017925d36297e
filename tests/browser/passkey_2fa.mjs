// A passkey as the second factor, with Chromium's virtual authenticator
// on http://localhost:PORT: a person registers a passkey from the
// account pages, signs out, signs in with the password and is asked for
// the passkey on the 2fa page (no code field: the account has no TOTP),
// which opens a session with amr "pwd hwk"; the export lists the
// passkey.

import { scenario, screenshot, check, inspect } from "./browser.mjs";
import { signIn } from "./account_common.mjs";

await scenario(async (page, { url, email, password }) => {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("WebAuthn.enable");
    await cdp.send("WebAuthn.addVirtualAuthenticator", { options: {
        protocol: "ctap2", transport: "usb", hasResidentKey: false,
        hasUserVerification: false, automaticPresenceSimulation: true } });

    await signIn(page, url, email, password, "/guichet/account/passkeys");
    check(page.url().endsWith("/guichet/account/passkeys"),
          "on the passkeys page: " + page.url());
    const report = { violations: {}, overflow: {} };
    await inspect(page, "passkeys", report);
    await page.getByLabel(/^name$/i).fill("Security key");
    await Promise.all([
        page.waitForURL(/done=registered/),
        page.getByRole("button", { name: /add a passkey/i }).click(),
    ]);
    await page.getByRole("button", { name: /^sign out$/i }).click();
    await page.waitForURL(/\/guichet\/login/);

    await signIn(page, url, email, password, "/app/hello");
    check(new URL(page.url()).pathname === "/guichet/2fa",
          "asked for the second factor: " + page.url());
    const codeFields = await page.locator("#code").count();
    const lead = await page.textContent(".lead");
    await screenshot(page, "passkey-2fa");
    await inspect(page, "2fa-passkey", report);

    await Promise.all([
        page.waitForURL((u) => u.pathname === "/app/hello",
                        { waitUntil: "commit" }),
        page.getByRole("button", { name: /use your passkey/i }).click(),
    ]);
    await page.waitForLoadState();
    const app = await page.textContent("body");

    // every factor was given: the export needs no new proof
    const exported = await page.evaluate(async () => {
        const r = await fetch("/guichet/account/export");
        return { status: r.status, body: await r.text() };
    });

    return { codeFields, lead, app, exported, ...report };
});
