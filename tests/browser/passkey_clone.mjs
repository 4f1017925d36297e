// What a stolen passkey answer or a copied key gets, with Chromium's
// virtual authenticator on http://localhost:PORT. A person registers a
// discoverable passkey and signs in with it alone; the exact request of
// that sign-in (form and cookies) is kept to be sent again. Then the
// key is copied into a second authenticator whose signature counter
// starts again from zero (a clone), and used for a passwordless sign-in
// and as the second factor after the password: each is refused.

import { scenario, check } from "./browser.mjs";
import { signIn } from "./account_common.mjs";

const OPTIONS = {
    protocol: "ctap2", transport: "internal", hasResidentKey: true,
    hasUserVerification: true, isUserVerified: true,
    automaticPresenceSimulation: true,
};

async function passwordless(page, url) {
    await page.goto(`${url}/guichet/login?return_to=/app/hello`);
    await Promise.all([
        page.waitForURL((u) => u.pathname !== "/guichet/login",
                        { waitUntil: "commit" }),
        page.getByRole("button", { name: /use a passkey/i }).click(),
    ]);
    await page.waitForLoadState();
    return { path: new URL(page.url()).pathname,
             body: await page.textContent("body") };
}

async function signOut(page) {
    await page.getByRole("button", { name: /^sign out$/i }).click();
    await page.waitForURL(/\/guichet\/login/);
}

await scenario(async (page, { url, email, password }) => {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("WebAuthn.enable");
    const first = await cdp.send("WebAuthn.addVirtualAuthenticator",
                                 { options: OPTIONS });

    await signIn(page, url, email, password, "/guichet/account/passkeys");
    check(page.url().endsWith("/guichet/account/passkeys"),
          "on the passkeys page: " + page.url());
    await page.getByLabel(/^name$/i).fill("Laptop");
    await Promise.all([
        page.waitForURL(/done=registered/),
        page.getByRole("button", { name: /add a passkey/i }).click(),
    ]);
    await page.goto(`${url}/guichet/account`);
    await signOut(page);

    // the passwordless sign-in's request, kept as sent
    let sent = null;
    page.on("request", async (req) => {
        if (req.method() === "POST"
            && new URL(req.url()).pathname === "/guichet/passkey") {
            sent = { body: req.postData(),
                     cookie: (await req.allHeaders()).cookie || "" };
        }
    });
    const ok = await passwordless(page, url);
    check(ok.path === "/app/hello", "signed in with the passkey: "
          + ok.path + " " + ok.body);
    check(sent !== null, "the sign-in's request was seen");

    // a copy of the key, its counter back at zero
    const { credentials } = await cdp.send("WebAuthn.getCredentials",
        { authenticatorId: first.authenticatorId });
    check(credentials.length === 1, "one credential");
    const cred = credentials[0];
    await cdp.send("WebAuthn.removeVirtualAuthenticator",
                   { authenticatorId: first.authenticatorId });
    const clone = await cdp.send("WebAuthn.addVirtualAuthenticator",
                                 { options: OPTIONS });
    await cdp.send("WebAuthn.addCredential", {
        authenticatorId: clone.authenticatorId,
        credential: { ...cred, signCount: 0 },
    });

    await page.goto(`${url}/guichet/account`);
    await signOut(page);
    const cloned = await passwordless(page, url);

    await signIn(page, url, email, password, "/app/hello");
    check(new URL(page.url()).pathname === "/guichet/2fa",
          "asked for the second factor: " + page.url());
    await Promise.all([
        page.waitForResponse((res) => res.request().method() === "POST"
            && new URL(res.url()).pathname === "/guichet/2fa"),
        page.getByRole("button", { name: /use your passkey/i }).click(),
    ]);
    await page.waitForLoadState();
    const second = await page.textContent("body");

    return { sent, cloned, second, signCount: cred.signCount };
});
