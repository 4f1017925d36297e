// A person logs in with email and password, lands on the application,
// sees who they are, then logs out.

import { scenario, screenshot, check } from "./browser.mjs";

await scenario(async (page, { url, email, password }) => {
    await page.goto(`${url}/app/hello`);
    check(page.url().includes("/guichet/login"), "sent to the login page");
    await screenshot(page, "login-form");

    await page.getByLabel(/email/i).fill(email);
    await page.getByLabel(/password/i).fill(password);
    await Promise.all([
        page.waitForURL(/\/app\/hello$/, { waitUntil: "commit" }),
        page.getByRole("button", { name: /sign in/i }).click(),
    ]);
    const app = await page.textContent("body");
    await screenshot(page, "login-app");

    await page.goto(`${url}/guichet/logout`);
    await Promise.all([
        page.waitForURL(/\/guichet\/login/, { waitUntil: "commit" }),
        page.getByRole("button", { name: /sign out of this session/i }).click(),
    ]);
    await page.goto(`${url}/app/hello`);
    return { app, after_logout: page.url() };
});
