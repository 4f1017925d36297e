// The identity check of an account whose second factor is a passkey, in
// two runs. "register": a person signs in with the password and
// registers a passkey; the run hands back the key (from the virtual
// authenticator) and the browser's cookies. Between the runs the test
// makes the sign-in's proof of identity stale. "reauth": the same
// browser (cookies) and authenticator (key) ask for the data export,
// are sent to the reauth page, which asks for the password and the
// passkey, first with a wrong password, then with the right one.

import { scenario, check, inspect } from "./browser.mjs";
import { signIn } from "./account_common.mjs";

const OPTIONS = {
    protocol: "ctap2", transport: "usb", hasResidentKey: false,
    hasUserVerification: false, automaticPresenceSimulation: true,
};

async function confirm(page, password) {
    await page.getByLabel(/^password$/i).fill(password);
    const [res] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === "POST"
            && new URL(r.url()).pathname === "/guichet/account/reauth"),
        page.getByRole("button", { name: /confirm with your passkey/i })
            .click(),
    ]);
    await page.waitForLoadState();
    return res.status();
}

await scenario(async (page, args, context) => {
    const { url, email, password, mode } = args;
    const cdp = await context.newCDPSession(page);
    await cdp.send("WebAuthn.enable");
    const { authenticatorId } = await cdp.send(
        "WebAuthn.addVirtualAuthenticator", { options: OPTIONS });

    if (mode === "register") {
        await signIn(page, url, email, password,
                     "/guichet/account/passkeys");
        check(page.url().endsWith("/guichet/account/passkeys"),
              "on the passkeys page: " + page.url());
        await page.getByLabel(/^name$/i).fill("Key");
        await Promise.all([
            page.waitForURL(/done=registered/),
            page.getByRole("button", { name: /add a passkey/i }).click(),
        ]);
        const { credentials } = await cdp.send("WebAuthn.getCredentials",
                                               { authenticatorId });
        return { credential: credentials[0],
                 cookies: await context.cookies() };
    }

    await context.addCookies(args.cookies);
    await cdp.send("WebAuthn.addCredential",
                   { authenticatorId, credential: args.credential });

    await page.goto(`${url}/guichet/account/export`);
    const asked = new URL(page.url()).pathname;
    const codeFields = await page.locator("#code").count();
    const lead = await page.textContent("#reauth-why");
    const report = { violations: {}, overflow: {} };
    await inspect(page, "reauth-passkey", report);

    const wrong = await confirm(page, password + " not");
    const wrongText = await page.textContent("main");
    const right = await confirm(page, password);
    const after = page.url();

    // the account page goes on to start the download: the export is
    // fetched with the browser's cookies, beside the page
    const r = await context.request.get(`${url}/guichet/account/export`,
                                        { maxRedirects: 0 });
    const exported = { status: r.status(), body: await r.text() };

    return { asked, codeFields, lead, wrong, wrongText, right, after,
             exported, ...report };
});
