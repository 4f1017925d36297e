// Another account's passkey offered as the second factor: two people
// register a passkey each (in the same virtual authenticator), then the
// first signs in with the password and, on the 2fa page, the page's own
// ceremony is run with the second person's credential instead of hers:
// the challenge is right and the signature is good, the key is not hers.

import { scenario, check } from "./browser.mjs";
import { signIn } from "./account_common.mjs";

async function register(page, url, email, password, name) {
    await signIn(page, url, email, password, "/guichet/account/passkeys");
    check(page.url().endsWith("/guichet/account/passkeys"),
          "on the passkeys page: " + page.url());
    await page.getByLabel(/^name$/i).fill(name);
    await Promise.all([
        page.waitForURL(/done=registered/),
        page.getByRole("button", { name: /add a passkey/i }).click(),
    ]);
    await page.getByRole("button", { name: /^sign out$/i }).click();
    await page.waitForURL(/\/guichet\/login/);
}

await scenario(async (page, { url, email, password, other, otherId }) => {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("WebAuthn.enable");
    const { authenticatorId } = await cdp.send(
        "WebAuthn.addVirtualAuthenticator", { options: {
            protocol: "ctap2", transport: "internal", hasResidentKey: true,
            hasUserVerification: true, isUserVerified: true,
            automaticPresenceSimulation: true } });

    await register(page, url, email, password, "Mine");
    await register(page, url, other, password, "Theirs");

    const { credentials } = await cdp.send("WebAuthn.getCredentials",
                                           { authenticatorId });
    const theirs = credentials.find((c) => atob(c.userHandle) === otherId);
    check(theirs, "the other person's credential");

    await signIn(page, url, email, password, "/app/hello");
    check(new URL(page.url()).pathname === "/guichet/2fa",
          "asked for the second factor: " + page.url());

    const [res] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === "POST"
            && new URL(r.url()).pathname === "/guichet/2fa"),
        page.evaluate(async (id) => {
            const b64 = (s) => Uint8Array.from(
                atob(s.replace(/-/g, "+").replace(/_/g, "/")),
                (c) => c.charCodeAt(0));
            const url64 = (buf) => btoa(String.fromCharCode(
                ...new Uint8Array(buf))).replace(/\+/g, "-")
                .replace(/\//g, "_").replace(/=+$/, "");
            const form = document.getElementById("passkey-2fa");
            const body = new URLSearchParams();
            body.set("csrf", form.elements.csrf.value);
            const o = await (await fetch(form.dataset.options, {
                method: "POST", body })).json();
            o.challenge = b64(o.challenge);
            o.allowCredentials = [{ type: "public-key", id: b64(id) }];
            const cred = await navigator.credentials.get({ publicKey: o });
            const r = cred.response;
            form.elements.credential.value = url64(cred.rawId);
            form.elements.auth_data.value = url64(r.authenticatorData);
            form.elements.signature.value = url64(r.signature);
            form.elements.client_data.value = url64(r.clientDataJSON);
            form.submit();
        }, theirs.credentialId),
    ]);
    await page.waitForLoadState();

    return { status: res.status(), body: await page.textContent("body") };
});
