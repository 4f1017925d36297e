// A person turns on two-step verification from the account page right
// after signing in (the sign-in is the proof of identity, nothing is
// asked again): the page shows a QR code and the key next to it; the key goes into an "app" (computed here), its first code turns
// the second factor on and shows the recovery codes. Signing out and in
// again then asks for a code.

import { scenario, screenshot, check } from "./browser.mjs";
import { base32Decode, signIn, totp } from "./account_common.mjs";

await scenario(async (page, { url, email, password }) => {
    await signIn(page, url, email, password, "/guichet/account");
    check(page.url().endsWith("/guichet/account"), "on the account page");
    const before = await page.textContent("#totp-state");
    await screenshot(page, "account-page");

    await Promise.all([
        page.waitForURL(/\/guichet\/account\/totp$/),
        page.getByRole("link", { name: /set up an authenticator/i }).click(),
    ]);

    const qr = await page.locator("p.qr img").evaluate(
        (img) => ({ w: img.naturalWidth, h: img.naturalHeight,
                    done: img.complete }));
    check(qr.done && qr.w > 0, "the QR code image loaded");
    const shown = (await page.textContent("#totp-secret")).trim();
    const secret = base32Decode(shown);
    await screenshot(page, "account-totp-setup");

    await page.getByLabel(/code the app shows now/i).fill(totp(secret));
    await page.getByRole("button", { name: /turn on/i }).click();
    await page.waitForSelector("#recovery-codes");
    const codes = await page.locator("#recovery-codes code").allTextContents();
    await screenshot(page, "account-recovery-codes");

    await page.getByRole("link", { name: /back to your account/i }).click();
    await page.waitForURL(/\/guichet\/account$/);
    const after = await page.textContent("#totp-state");
    const left = await page.textContent("#recovery-left");
    await screenshot(page, "account-totp-on");

    await Promise.all([
        page.waitForURL(/\/guichet\/login/, { waitUntil: "commit" }),
        page.locator("#logout").click(),
    ]);
    await page.goto(`${url}/app/hello`);
    const loggedOut = page.url();

    await page.getByLabel(/email/i).fill(email);
    await page.getByLabel(/^password$/i).fill(password);
    await Promise.all([
        page.waitForURL(/\/guichet\/2fa/),
        page.getByRole("button", { name: /sign in/i }).click(),
    ]);
    await screenshot(page, "account-2fa");
    // the enrolment used this step's code: the app's next one is good
    await page.getByLabel(/code from your authenticator/i).fill(
        totp(secret, 1));
    await Promise.all([
        page.waitForURL(/\/app\/hello$/, { waitUntil: "commit" }),
        page.getByRole("button", { name: /verify/i }).click(),
    ]);
    const app = await page.textContent("body");

    return { before, shown, secret_len: secret.length, qr, codes, after,
             left, logged_out: loggedOut, app };
});
