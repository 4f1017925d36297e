// A password reset for an account whose second factor is a passkey: the
// mailed link (handed over by the test, on localhost), the page that asks
// for a new password and the passkey, the passkey of the first run of
// passkey_reauth.mjs ("register") put back into a virtual authenticator.

import { scenario, inspect } from "./browser.mjs";

const OPTIONS = {
    protocol: "ctap2", transport: "usb", hasResidentKey: false,
    hasUserVerification: false, automaticPresenceSimulation: true,
};

async function submit(page, password) {
    await page.getByLabel(/^new password$/i).fill(password);
    const [res] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === "POST"
            && new URL(r.url()).pathname === "/guichet/reset/confirm"),
        page.getByRole("button", { name: /with your passkey/i }).click(),
    ]);
    await page.waitForLoadState();
    return res.status();
}

await scenario(async (page, args, context) => {
    const { link, password, credential } = args;
    const cdp = await context.newCDPSession(page);
    await cdp.send("WebAuthn.enable");
    const { authenticatorId } = await cdp.send(
        "WebAuthn.addVirtualAuthenticator", { options: OPTIONS });
    await cdp.send("WebAuthn.addCredential",
                   { authenticatorId, credential });

    await page.goto(link);
    await page.waitForURL(/\/guichet\/reset\/confirm$/);
    const report = { violations: {}, overflow: {} };
    await inspect(page, "reset-passkey", report);
    const codeFields = await page.locator("#code").count();

    const status = await submit(page, password);
    const text = await page.textContent("main");

    return { codeFields, status, text, ...report };
});
