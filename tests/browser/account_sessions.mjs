// A person signed in on two devices lists their sessions and signs the
// other device out, downloads their data (which asks for the password
// again first), then deletes the account.

import fs from "node:fs";

import { scenario, screenshot, check } from "./browser.mjs";
import { signIn } from "./account_common.mjs";

await scenario(async (page, { url, email, password }, context) => {
    const other = await context.browser().newContext(
        { userAgent: "GuichetPhone/1.0 (second device)" });
    const phone = await other.newPage();
    await signIn(phone, url, email, password, "/app/hello");

    await signIn(page, url, email, password, "/guichet/account");
    const rows = await page.locator("#sessions tbody tr").allTextContents();
    await screenshot(page, "account-sessions-two");

    const revoke = page.getByRole("button", { name: /sign out guichetphone/i });
    check(await revoke.count() === 1, "one sign-out button, for the phone");
    await Promise.all([
        page.waitForURL(/\/guichet\/account$/, { waitUntil: "commit" }),
        revoke.click(),
    ]);
    await page.waitForLoadState();
    const rowsAfter = await page.locator("#sessions tbody tr").count();
    await screenshot(page, "account-sessions-one");

    await phone.goto(`${url}/app/hello`);
    const phoneAfter = phone.url();
    await other.close();

    // signed in a moment ago: the sign-in is the proof, nothing is asked
    const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.getByRole("link", { name: /download my data/i }).click(),
    ]);
    const exported = JSON.parse(fs.readFileSync(await download.path(),
                                                "utf8"));
    const filename = download.suggestedFilename();

    await page.goto(`${url}/guichet/account`);
    await page.getByLabel(/i want to delete my account/i).check();
    await screenshot(page, "account-delete");
    await Promise.all([
        page.waitForURL(/\/guichet\/account\/delete$/),
        page.getByRole("button", { name: /delete my account/i }).click(),
    ]);
    const goodbye = await page.textContent("h1");
    await screenshot(page, "account-goodbye");

    await page.goto(`${url}/app/hello`);
    return { rows, rows_after: rowsAfter, phone_after: phoneAfter,
             exported, filename, goodbye, after_delete: page.url() };
});
