// A passwordless sign-in without user verification: the page's own
// ceremony is run with userVerification "discouraged" and an
// authenticator that does not verify the person, so the answer is
// signed and fresh but says "present, not verified".

import { scenario, check } from "./browser.mjs";
import { signIn } from "./account_common.mjs";

await scenario(async (page, { url, email, password }) => {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("WebAuthn.enable");
    const { authenticatorId } = await cdp.send(
        "WebAuthn.addVirtualAuthenticator", { options: {
            protocol: "ctap2", transport: "internal", hasResidentKey: true,
            hasUserVerification: true, isUserVerified: true,
            automaticPresenceSimulation: true } });

    await signIn(page, url, email, password, "/guichet/account/passkeys");
    check(page.url().endsWith("/guichet/account/passkeys"),
          "on the passkeys page: " + page.url());
    await page.getByLabel(/^name$/i).fill("Laptop");
    await Promise.all([
        page.waitForURL(/done=registered/),
        page.getByRole("button", { name: /add a passkey/i }).click(),
    ]);
    await page.getByRole("button", { name: /^sign out$/i }).click();
    await page.waitForURL(/\/guichet\/login/);
    await cdp.send("WebAuthn.setUserVerified",
                   { authenticatorId, isUserVerified: false });

    const [res] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === "POST"
            && new URL(r.url()).pathname === "/guichet/passkey"),
        page.evaluate(async () => {
            const b64 = (s) => Uint8Array.from(
                atob(s.replace(/-/g, "+").replace(/_/g, "/")),
                (c) => c.charCodeAt(0));
            const url64 = (buf) => btoa(String.fromCharCode(
                ...new Uint8Array(buf))).replace(/\+/g, "-")
                .replace(/\//g, "_").replace(/=+$/, "");
            const form = document.getElementById("passkey-signin");
            const body = new URLSearchParams();
            body.set("csrf", form.elements.csrf.value);
            const o = await (await fetch(form.dataset.options, {
                method: "POST", body })).json();
            o.challenge = b64(o.challenge);
            o.userVerification = "discouraged";
            const cred = await navigator.credentials.get({ publicKey: o });
            const r = cred.response;
            form.elements.credential.value = url64(cred.rawId);
            form.elements.auth_data.value = url64(r.authenticatorData);
            form.elements.signature.value = url64(r.signature);
            form.elements.client_data.value = url64(r.clientDataJSON);
            form.elements.user_handle.value = url64(r.userHandle);
            form.submit();
        }),
    ]);
    await page.waitForLoadState();

    return { status: res.status(), body: await page.textContent("body") };
});
