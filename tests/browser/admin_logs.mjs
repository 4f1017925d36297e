// A member of the security team signs in with password and TOTP, reads
// the connection log, filters it, and sees what an attacker typed as
// plain text.

import { scenario, screenshot, check } from "./browser.mjs";

await scenario(async (page, { url, email, password, code, hostile }) => {
    await page.goto(`${url}/guichet/admin/logs`);
    check(page.url().includes("/guichet/login"), "sent to the login page");

    await page.getByLabel(/email/i).fill(email);
    await page.getByLabel(/password/i).fill(password);
    await Promise.all([
        page.waitForURL(/\/guichet\/2fa/, { waitUntil: "commit" }),
        page.getByRole("button", { name: /sign in/i }).click(),
    ]);
    await page.getByLabel(/code/i).fill(code);
    await Promise.all([
        page.waitForURL(/\/guichet\/admin\/logs/, { waitUntil: "commit" }),
        page.getByRole("button").first().click(),
    ]);
    await page.waitForSelector("#log-table");
    const anomalies = await page.textContent("#anomalies");
    await screenshot(page, "admin-logs");

    await page.getByLabel("Event").selectOption("login.failure");
    await Promise.all([
        page.waitForURL(/event=login.failure/, { waitUntil: "commit" }),
        page.getByRole("button", { name: /filter/i }).click(),
    ]);
    await page.waitForSelector("#log-table");
    const events = await page.$$eval("#log-table tbody tr td:nth-child(2)",
        (tds) => tds.map((td) => td.textContent));
    const emails = await page.$$eval("#log-table tbody tr td:nth-child(6)",
        (tds) => tds.map((td) => td.textContent));
    const scripts = await page.$$eval("script", (s) => s.length);
    await screenshot(page, "admin-logs-filtered");
    return { events, emails, scripts, anomalies, hostile_shown:
             emails.includes(hostile) };
});
