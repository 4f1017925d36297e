// Shared by the browser scenarios: Debian's headless Chromium through
// playwright-core, screenshots kept as test artifacts, each page looked
// at in two widths with axe-core, and a scenario runner that reports
// one JSON object on stdout.

import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

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

const require = createRequire(import.meta.url);
export const WIDTHS = [1280, 390];
let AXE = null;

// The serious and critical violations of the WCAG 2.1 A and AA rules
// (and axe's best practices) on the page. axe is evaluated through the
// DevTools protocol: the pages' CSP (default-src 'self') stays in force
// for everything else.
export async function axe(page) {
    AXE = AXE || fs.readFileSync(require.resolve("axe-core/axe.min.js"),
                                 "utf8");
    await page.evaluate(AXE);
    return page.evaluate(async () => {
        const r = await window.axe.run(document, {
            runOnly: { type: "tag",
                       values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa",
                                "best-practice"] },
        });
        return r.violations
            .filter((v) => v.impact === "serious" || v.impact === "critical")
            .map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                           nodes: v.nodes.map((n) => n.target.join(" "))
                                         .slice(0, 5) }));
    });
}

// The page at each of WIDTHS: saved as NAME-WIDTH.png, checked with
// axe, and measured (nothing wider than the screen, but a table's own
// scroller); what is wrong goes into report.violations and
// report.overflow under NAME-WIDTH. The viewport is left at 1280.
export async function inspect(page, name, report) {
    for (const w of WIDTHS) {
        await page.setViewportSize({ width: w, height: 900 });
        await screenshot(page, `${name}-${w}`);
        const v = await axe(page);
        if (v.length) {
            report.violations[`${name}-${w}`] = v;
        }
        const wide = await page.evaluate(() =>
            document.documentElement.scrollWidth
            > document.documentElement.clientWidth);
        if (wide) {
            report.overflow[`${name}-${w}`] = true;
        }
    }
    await page.setViewportSize({ width: 1280, height: 900 });
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
