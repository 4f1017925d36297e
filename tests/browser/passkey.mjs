// Passkeys with Chromium's virtual authenticator (DevTools WebAuthn
// domain), on http://localhost:PORT: a person signs in with the
// password, registers a passkey from the account pages, signs out, signs
// in with the passkey alone, then removes it. A ceremony the
// authenticator refuses (no user verification) shows a clear message.

import { scenario, screenshot, check } from "./browser.mjs";
import { signIn } from "./account_common.mjs";

await scenario(async (page, { url, email, password }) => {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("WebAuthn.enable");
    const { authenticatorId } = await cdp.send(
        "WebAuthn.addVirtualAuthenticator", { options: {
            protocol: "ctap2", transport: "internal", hasResidentKey: true,
            hasUserVerification: true, isUserVerified: true,
            automaticPresenceSimulation: true } });

    await signIn(page, url, email, password, "/guichet/account/passkeys");
    check(page.url().endsWith("/guichet/account/passkeys"),
          "on the passkeys page");
    const before = await page.textContent("main");

    await page.getByLabel(/^name$/i).fill("Laptop");
    await Promise.all([
        page.waitForURL(/done=registered/),
        page.getByRole("button", { name: /add a passkey/i }).click(),
    ]);
    const rows = await page.locator("#passkeys tbody tr").allTextContents();
    await screenshot(page, "passkeys-registered");

    await page.getByRole("button", { name: /^sign out$/i }).click();
    await page.waitForURL(/\/guichet\/login/);

    await page.goto(`${url}/app/hello`);
    await Promise.all([
        // the login page's own URL carries return_to=/app/hello
        page.waitForURL((u) => u.pathname === "/app/hello",
                        { waitUntil: "commit" }),
        page.getByRole("button", { name: /use a passkey/i }).click(),
    ]);
    await page.waitForLoadState();
    const app = await page.textContent("body");

    await page.goto(`${url}/guichet/account/passkeys`);
    check(page.url().endsWith("/guichet/account/passkeys"),
          "a passkey sign-in counts as a fresh proof: " + page.url()
          + " " + app);
    await Promise.all([
        page.waitForURL(/done=removed/),
        page.getByRole("button", { name: /remove the passkey laptop/i })
            .click(),
    ]);
    const none = await page.locator("#passkeys-none").count();

    // a ceremony the authenticator refuses: the browser's NotAllowedError
    await page.getByRole("button", { name: /^sign out$/i }).click();
    await page.waitForURL(/\/guichet\/login/);
    await cdp.send("WebAuthn.setUserVerified",
                   { authenticatorId, isUserVerified: false });
    await page.getByRole("button", { name: /use a passkey/i }).click();
    const msg = page.locator("#passkey-signin .passkey-message");
    await msg.waitFor({ state: "visible", timeout: 20000 });
    const cancelled = await msg.textContent();
    await screenshot(page, "passkey-cancelled");

    return { before, rows, app, none, cancelled, url: page.url() };
});
