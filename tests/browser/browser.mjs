// Shared by the browser scenarios: Debian's headless Chromium through
// playwright-core, screenshots kept as test artifacts, and a scenario
// runner that reports one JSON object on stdout.

import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const ARTIFACTS = process.env.GUICHET_ARTIFACTS
    || path.resolve(import.meta.dirname, "../../build/test-artifacts");

export async function launch() {
    return chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: [
            "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync",
        ],
    });
}

export async function screenshot(page, name) {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const file = path.join(ARTIFACTS, `${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    return file;
}

export function check(cond, what) {
    if (!cond) {
        throw new Error(`check failed: ${what}`);
    }
}

// Runs fn(page, args) in a fresh browser context; prints
// {"ok":true,...result} or {"ok":false,"error":...} and sets the exit code.
export async function scenario(fn) {
    const args = JSON.parse(process.argv[2] || "{}");
    const browser = await launch();
    let out;
    try {
        const context = await browser.newContext();
        // Browsers ask for it on their own; the pages never link it.
        await context.route("**/favicon.ico",
            (route) => route.fulfill({ status: 204 }));
        const page = await context.newPage();
        page.setDefaultTimeout(10000);
        const errors = [];
        page.on("pageerror", (e) => errors.push(String(e)));
        page.on("console", (m) => {
            if (m.type() === "error") errors.push(m.text());
        });
        const result = await fn(page, args, context);
        out = { ok: true, console_errors: errors, ...result };
    } catch (e) {
        out = { ok: false, error: String(e && e.stack || e) };
    } finally {
        await browser.close();
    }
    process.stdout.write(JSON.stringify(out) + "\n");
    process.exitCode = out.ok ? 0 : 1;
}
