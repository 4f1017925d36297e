// The links a person receives by mail, followed in the browser. From the
// sign-in page: "Forgot your password?", the address, then the link of
// the mail (the test reads it out of the SMTP server's mailbox and hands
// it over on stdin), the code of the authenticator app and a new
// password; signed out, the person signs in with it. Then an
// invitation's link, to registration and a first sign-in; then that
// person changes their address and confirms it from the mailed link.
// Every page is
// saved at 1280 and 390 pixels wide (build/test-artifacts/mail-*.png)
// and checked with axe-core.
//
// Asking for a mail: one line {"ask":{"to":ADDRESS,"route":ROUTE}} on
// stdout, answered by one line on stdin, the link.

import readline from "node:readline";

import { scenario, check, inspect } from "./browser.mjs";
import { base32Decode, totp } from "./account_common.mjs";

const input = readline.createInterface({ input: process.stdin });
const lines = input[Symbol.asyncIterator]();

async function ask(to, route) {
    process.stdout.write(JSON.stringify({ ask: { to, route } }) + "\n");
    const { value, done } = await lines.next();
    check(!done && value.startsWith("http"), `a link for ${to}: ${value}`);
    return value.trim();
}

await scenario(async (page, args) => {
    const { url, email, password, secret, invited, first, moved } = args;
    const seen = {};
    const report = { violations: {}, overflow: {} };
    const key = base32Decode(secret);

    async function visit(name) {
        await page.waitForLoadState();
        seen[name] = page.url();
        await inspect(page, `mail-${name}`, report);
    }
    const go = (action, where) => Promise.all([
        page.waitForURL(where, { waitUntil: "load" }),
        action(),
    ]);
    // a form posted back to its own address
    const submit = (re) => Promise.all([
        page.waitForNavigation({ waitUntil: "load" }),
        page.getByRole("button", { name: re }).click(),
    ]);
    const press = (re) => () => page.getByRole("button", { name: re }).click();
    const follow = (re) => () => page.getByRole("link", { name: re }).click();
    const signIn = async (address, pw) => {
        await page.getByLabel(/email/i).fill(address);
        await page.getByLabel(/^password$/i).fill(pw);
        await press(/^sign in$/i)();
    };

    try {
        // forgot the password: the request
        await page.goto(`${url}/guichet/login`);
        await visit("login");
        await go(follow(/forgot your password/i), /\/guichet\/reset$/);
        await visit("reset");
        await page.getByLabel(/email/i).fill(email);
        await submit(/send me a link/i);
        const sent = await page.textContent("#reset-sent");
        await visit("reset-sent");

        // the mail's link: its token leaves the address bar at once
        const link = await ask(email, "reset/confirm");
        await page.goto(link);
        await page.waitForURL(/\/guichet\/reset\/confirm$/);
        const address = page.url();
        const resetFor = await page.textContent("#reset-email");
        await visit("reset-confirm");
        await page.getByLabel(/^new password$/i).fill(password);
        await page.getByLabel(/code from your authenticator/i)
            .fill(totp(key));
        await submit(/set password/i);
        const done = await page.textContent("#reset-done");
        await visit("reset-done");

        // signed out: the application sends to the sign-in page
        await go(follow(/^sign in$/i), /\/guichet\/login$/);
        await page.goto(`${url}/app/hello`);
        const signedOut = page.url();
        await signIn(email, password);
        await page.waitForURL(/\/guichet\/2fa/);
        await visit("2fa");
        // the reset used this step's code: the app's next one is good
        await page.getByLabel(/code from your authenticator/i)
            .fill(totp(key, 1));
        await go(press(/verify/i), /\/app\/hello$/);
        const app = await page.textContent("body");

        // an invitation: its link, registration, a first sign-in
        const invitation = await ask(invited, "register");
        await page.context().clearCookies();
        await page.goto(invitation);
        await page.waitForURL(/\/guichet\/register$/);
        const registerAddress = page.url();
        const registerFor = await page.textContent("#register-email");
        await visit("register");
        await page.getByLabel(/^new password$/i).fill(first);
        await go(press(/set password and sign in/i), /\/guichet\/login/);
        await visit("registered");
        await page.goto(`${url}/app/hello`);
        await signIn(invited, first);
        await page.waitForURL(/\/app\/hello$/);
        const invitedApp = await page.textContent("body");

        // the invited person changes their address: the mailed link
        // asks before anything changes
        await page.goto(`${url}/guichet/account`);
        await page.getByText(/change your address/i).click();
        await page.getByLabel(/new address/i).fill(moved);
        await submit(/send the link/i);
        const confirmLink = await ask(moved, "account/email/confirm");
        await page.goto(confirmLink);
        await page.waitForURL(/\/guichet\/account\/email\/confirm$/);
        const confirmFor = await page.textContent("#new-email");
        await visit("email-confirm");
        await submit(/use this address/i);
        const changed = await page.textContent("main");
        await visit("email-changed");

        check(Object.keys(seen).length === 10, "every page visited");
        return { seen, ...report, link, address, sent, reset_for: resetFor,
                 done, signed_out: signedOut, app, invitation,
                 register_address: registerAddress,
                 register_for: registerFor, invited_app: invitedApp,
                 confirm_for: confirmFor, changed };
    } finally {
        input.close();
    }
});
