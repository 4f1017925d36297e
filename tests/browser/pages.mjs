// Every page as a person sees it, at 1280 and 390 pixels wide: each one
// is saved as build/test-artifacts/NAME-WIDTH.png and checked with
// axe-core (WCAG 2.1 A and AA rules); the serious and critical
// violations are reported. Along the way: the cursor after an error,
// the throttled page's wording, the recovery codes' copy and download.

import fs from "node:fs";

import { scenario, screenshot, check, inspect } from "./browser.mjs";
import { base32Decode, signIn, totp } from "./account_common.mjs";

await scenario(async (page, args, context) => {
    const { url, email, password, secret, fresh, register, link } = args;
    const seen = {};
    const violations = {};
    const overflow = {};

    async function visit(name) {
        await page.waitForLoadState();
        seen[name] = page.url();
        await inspect(page, name, { violations, overflow });
    }

    // autofocus is applied once the page is laid out: wait for it (a
    // page without any keeps the body, and says so)
    const focus = async () => {
        await page.waitForFunction(
            () => document.activeElement
                  && document.activeElement !== document.body,
            null, { timeout: 3000 }).catch(() => {});
        return page.evaluate(() => document.activeElement.id);
    };
    const submit = (re) => Promise.all([
        page.waitForNavigation({ waitUntil: "load" }),
        page.getByRole("button", { name: re }).click(),
    ]);

    // sign in, a wrong password, a throttled address
    await page.goto(`${url}/guichet/login`);
    const focusFirst = await focus();
    await visit("login");
    await page.getByLabel(/email/i).fill(email);
    await page.getByLabel(/^password$/i).fill("not the password");
    await submit(/sign in/i);
    const focusError = await focus();
    await visit("login-error");

    let throttled = "";
    for (let i = 0; i < 8 && !throttled.includes("Try again"); i++) {
        await page.getByLabel(/email/i).fill("nobody@example.org");
        await page.getByLabel(/^password$/i).fill("not the password");
        await submit(/sign in/i);
        throttled = await page.textContent("#login-error");
    }
    await visit("throttled");
    await page.waitForTimeout(2500);

    // a person without a second step: account, set-up, codes, goodbye
    await signIn(page, url, fresh, password, "/guichet/account");
    const alone = await page.locator("#only-session").count();
    const folded = await page.locator("#password-fold").evaluate(
        (d) => !d.open);
    await visit("account");
    await page.locator("#password-fold summary").click();
    await visit("account-password");

    await page.goto(`${url}/guichet/admin/logs`);
    await visit("error-403");
    await page.goto(`${url}/guichet/no-such-page`);
    await visit("error-404");
    await page.goto(`${url}/guichet/account/reauth`);
    await visit("reauth");

    await page.goto(`${url}/guichet/account/totp`);
    await visit("totp");
    const key = base32Decode((await page.textContent("#totp-secret")).trim());
    await page.getByLabel(/code the app shows now/i).fill("000000" ===
        totp(key) ? "111111" : "000000");
    await submit(/turn on/i);
    const focusTotp = await focus();
    await visit("totp-error");
    await page.getByLabel(/code the app shows now/i).fill(totp(key));
    await submit(/turn on/i);
    await page.waitForSelector("#code-tools:not([hidden])");
    const first = await page.textContent("main");
    await visit("recovery-codes");
    const codes = await page.locator("#recovery-codes code")
        .allTextContents();
    const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.locator("#codes-download").click(),
    ]);
    const text = fs.readFileSync(await download.path(), "utf8");
    const filename = download.suggestedFilename();
    await context.grantPermissions(["clipboard-read", "clipboard-write"]);
    await page.locator("#codes-copy").click();
    await page.waitForFunction(() =>
        document.getElementById("code-tools-status").textContent !== "");
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    await page.emulateMedia({ media: "print" });
    await screenshot(page, "recovery-codes-print");
    const printHidden = await page.locator("#code-tools").isHidden();
    await page.emulateMedia({ media: "screen" });

    await page.goto(`${url}/guichet/account`);
    await visit("account-totp-on");
    await page.getByLabel(/i want to delete my account/i).check();
    await submit(/delete my account/i);
    await visit("goodbye");

    // the security team: two steps, then the log
    await page.goto(`${url}/guichet/admin/logs`);
    await page.getByLabel(/email/i).fill(email);
    await page.getByLabel(/^password$/i).fill(password);
    await submit(/sign in/i);
    await visit("2fa");
    const sec = base32Decode(secret);
    await page.getByLabel(/code/i).fill(
        totp(sec) === "000000" ? "111111" : "000000");
    await submit(/verify/i);
    const focus2fa = await focus();
    await visit("2fa-error");
    await page.getByLabel(/code/i).fill(totp(sec));
    await submit(/verify/i);
    await page.waitForSelector("#log-table");
    const chart = await page.locator("#chart svg").count();
    await visit("admin-logs");

    await page.goto(`${url}/guichet/logout`);
    await visit("logout");
    await submit(/sign out of this session/i);
    const notice = await page.textContent("#login-notice");
    await visit("signed-out");

    // an invitation's link, a partner's request to link
    await page.goto(register);
    await visit("register");
    await context.addCookies(link.cookies);
    await page.goto(`${url}/guichet/link`);
    await visit("link");

    check(Object.keys(seen).length >= 20, "every page visited");
    return { seen, violations, overflow, focus_first: focusFirst,
             focus_error: focusError, focus_totp: focusTotp,
             focus_2fa: focus2fa, throttled, alone, folded, first, codes,
             download: text, filename, copied, print_hidden: printHidden,
             chart, notice };
});
