/*
 * Guichet passkeys (SPEC 11), served by the module (default-src 'self').
 * A form with data-options asks the server for the ceremony's options
 * (POST, its csrf field), runs navigator.credentials.create or .get,
 * writes the browser's answer in base64url into the form's hidden
 * fields and submits it. Without passkey support, or when the person
 * cancels, it says so and submits nothing.
 */

(function () {
    "use strict";

    function b64urlToBytes(s) {
        var bin, out, i;

        s = s.replace(/-/g, "+").replace(/_/g, "/");
        while (s.length % 4) {
            s += "=";
        }
        bin = atob(s);
        out = new Uint8Array(bin.length);
        for (i = 0; i < bin.length; i++) {
            out[i] = bin.charCodeAt(i);
        }
        return out;
    }

    function bytesToB64url(buf) {
        var bytes = new Uint8Array(buf);
        var bin = "";
        var i;

        for (i = 0; i < bytes.length; i++) {
            bin += String.fromCharCode(bytes[i]);
        }
        return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_")
            .replace(/=+$/, "");
    }

    function setup(form, create) {
        var msg = form.querySelector(".passkey-message");
        var busy = false;

        function say(text) {
            if (msg) {
                msg.textContent = text;
                msg.hidden = false;
            }
        }

        function field(name, value) {
            form.elements[name].value = value;
        }

        function failed(err) {
            busy = false;
            if (err && err.name === "NotAllowedError") {
                say("The passkey request was cancelled or timed out. "
                    + "Try again when you are ready.");
            } else if (err && err.name === "InvalidStateError") {
                say("This device already holds a passkey for your "
                    + "account.");
            } else if (err && err.guichet) {
                say(err.guichet);
            } else {
                say("The passkey could not be used. Try again.");
            }
        }

        form.addEventListener("submit", function (ev) {
            var body;

            ev.preventDefault();

            if (busy) {
                return;
            }

            if (!window.PublicKeyCredential || !navigator.credentials) {
                say("This browser does not support passkeys. Use another "
                    + "browser, or sign in another way.");
                return;
            }

            busy = true;
            body = new URLSearchParams();
            body.set("csrf", form.elements.csrf.value);

            fetch(form.getAttribute("data-options"), {
                method: "POST",
                credentials: "same-origin",
                redirect: "error",
                headers: { "Content-Type":
                           "application/x-www-form-urlencoded" },
                body: body.toString()
            }).then(function (res) {
                return res.json().then(function (o) {
                    if (!res.ok) {
                        throw { guichet: o.message
                                || "The passkey could not be used." };
                    }
                    return o;
                });
            }).then(function (o) {
                o.challenge = b64urlToBytes(o.challenge);
                if (create) {
                    o.user.id = b64urlToBytes(o.user.id);
                    return navigator.credentials.create({ publicKey: o });
                }
                (o.allowCredentials || []).forEach(function (c) {
                    c.id = b64urlToBytes(c.id);
                });
                return navigator.credentials.get({ publicKey: o });
            }).then(function (cred) {
                var r = cred.response;

                if (create) {
                    field("attestation", bytesToB64url(r.attestationObject));
                    field("transports", r.getTransports
                          ? r.getTransports().join(",") : "");
                } else {
                    field("credential", bytesToB64url(cred.rawId));
                    field("auth_data", bytesToB64url(r.authenticatorData));
                    field("signature", bytesToB64url(r.signature));
                    field("user_handle", r.userHandle
                          ? bytesToB64url(r.userHandle) : "");
                }
                field("client_data", bytesToB64url(r.clientDataJSON));
                form.submit();
            }).catch(failed);
        });

        form.hidden = false;
    }

    var reg = document.getElementById("passkey-register");
    var forms = document.querySelectorAll("form.passkey-signin");
    var i;

    if (reg) {
        setup(reg, true);
    }
    for (i = 0; i < forms.length; i++) {
        setup(forms[i], false);
    }
}());
