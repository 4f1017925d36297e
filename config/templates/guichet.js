/*
 * Guichet pages' only script, served by the module (default-src 'self').
 * The recovery codes page works without it: the codes are text to
 * select, and the browser prints them. With it, three buttons copy them,
 * download them as a text file (a Blob, made here: nothing is asked of
 * the server again, which no longer knows them) and print them.
 */

(function () {
    "use strict";

    var list = document.getElementById("recovery-codes");
    var tools = document.getElementById("code-tools");

    if (!list || !tools) {
        return;
    }

    function codesText() {
        var codes = list.querySelectorAll("code");
        var lines = ["Guichet recovery codes", ""];
        var i;

        for (i = 0; i < codes.length; i++) {
            lines.push(codes[i].textContent.trim());
        }

        lines.push("", "Each code works once.", "");
        return lines.join("\n");
    }

    function say(text) {
        var out = document.getElementById("code-tools-status");
        if (out) {
            out.textContent = text;
        }
    }

    document.getElementById("codes-copy").addEventListener("click",
        function () {
            if (!navigator.clipboard) {
                say("Select the codes and copy them.");
                return;
            }

            navigator.clipboard.writeText(codesText()).then(function () {
                say("Codes copied.");
            }, function () {
                say("Select the codes and copy them.");
            });
        });

    document.getElementById("codes-download").addEventListener("click",
        function () {
            var blob = new Blob([codesText()], { type: "text/plain" });
            var a = document.createElement("a");

            a.href = URL.createObjectURL(blob);
            a.download = "guichet-recovery-codes.txt";
            document.body.appendChild(a);
            a.click();
            a.remove();
            setTimeout(function () { URL.revokeObjectURL(a.href); }, 1000);
            say("Codes downloaded.");
        });

    document.getElementById("codes-print").addEventListener("click",
        function () {
            window.print();
        });

    tools.hidden = false;
}());
