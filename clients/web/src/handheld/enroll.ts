// enroll.ts — enrolling this browser with an enrollment code (typed, or
// scanned from the console's QR code), and logging a person in.
import { app, errText, toast, type View } from "../app";
import { h, mount, field } from "../dom";
import { t } from "../i18n";
import { canScan, scanQr } from "../scan";
import { render } from "../main";

/* The console's QR codes hold "<origin>/#enroll=<CODE>". */
export function parseEnrollText(text: string): { server: string; code: string } | null {
  const m = /^(https?:\/\/[^/#?]+)\/?#enroll=([A-Z0-9]{4,64})$/.exec(text.trim());
  if (m) return { server: m[1], code: m[2] };
  if (/^[A-Z2-9]{16}$/.test(text.trim())) return { server: location.origin, code: text.trim() };
  return null;
}

/* "Web · Android" — what the console's device list shows when no name was given. */
function defaultName(): string {
  const ua = navigator.userAgent;
  const os = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS" : /Windows/.test(ua) ? "Windows"
    : /Mac OS/.test(ua) ? "macOS" : /Linux/.test(ua) ? "Linux" : "";
  return "Web" + (os ? " · " + os : "") + " · " + new Date().toISOString().slice(0, 10);
}

export function enrollView(el: HTMLElement): View {
  const fromUrl = parseEnrollText(location.origin + "/" + location.hash);
  const server = h("input", { type: "url", name: "server", autocomplete: "url", inputmode: "url",
    value: fromUrl?.server ?? location.origin, required: true, spellcheck: "false" });
  const code = h("input", { type: "text", name: "code", autocomplete: "off", autocapitalize: "characters",
    value: fromUrl?.code ?? "", required: true, spellcheck: "false", maxlength: 64 });
  const name = h("input", { type: "text", name: "device-name", value: "", maxlength: 100 });
  const msg = h("p", { class: "msg", "aria-live": "assertive" });
  const camBox = h("div", { class: "cam" });
  const btn = h("button", { type: "submit", class: "primary" }, t("enroll"));
  let stopCam: (() => void) | null = null;
  const form = h("form", {
    class: "card narrow", onsubmit: async (e: Event) => {
      e.preventDefault();
      stopCam?.();
      btn.disabled = true;
      mount(msg);
      try {
        const dev = await app.client.enroll(server.value.trim().replace(/\/+$/, ""),
          code.value.trim().toUpperCase(), name.value.trim() || defaultName());
        toast(t("enrolled", { device: dev }));
        history.replaceState(null, "", "#/");
        await render();
      } catch (err) {
        mount(msg, h("span", { class: "err", role: "alert" }, t("error", { msg: errText(err) })));
      } finally { btn.disabled = false; }
    } },
    h("h1", null, t("enrollTitle")),
    h("p", null, t("enrollIntro")),
    field(t("serverAddress"), server),
    field(t("enrollCode"), code),
    field(t("deviceName"), name),
    canScan() ? h("button", { type: "button", onclick: async () => {
      if (stopCam) { stopCam(); stopCam = null; return; }
      try {
        stopCam = await scanQr(camBox, (text) => {
          stopCam = null;
          const p = parseEnrollText(text);
          if (p) { server.value = p.server; code.value = p.code; form.requestSubmit(); }
        });
      } catch (err) { mount(msg, h("span", { class: "err" }, errText(err))); }
    } }, t("scanQr")) : h("p", { class: "hint" }, t("noCamera")),
    camBox, btn, msg);
  mount(el, form, adminForm(server));
  return { stop: () => stopCam?.() };
}

/* The admin opens the console with the admin token (DATA/admin.token)
 * instead of enrolling: it syncs every site and may make enrollment codes. */
function adminForm(server: HTMLInputElement): HTMLElement {
  const token = h("input", { type: "text", class: "masked", autocomplete: "off", spellcheck: "false",
    pattern: "[0-9a-f]{64}", required: true, maxlength: 64 });
  const msg = h("p", { class: "msg", "aria-live": "assertive" });
  return h("details", { class: "card narrow" }, h("summary", null, t("useAdminToken")),
    h("form", { onsubmit: async (e: Event) => {
      e.preventDefault();
      try {
        await app.client.attachAdmin(server.value.trim().replace(/\/+$/, ""), token.value.trim());
        token.value = "";
        history.replaceState(null, "", "#/");
        await render();
      } catch (err) { mount(msg, h("span", { class: "err", role: "alert" }, t("error", { msg: errText(err) }))); }
    } }, field(t("adminToken"), token), h("button", { type: "submit" }, t("openConsole")), msg));
}

export function loginView(el: HTMLElement): View {
  const staff = h("input", { type: "text", name: "staff", autocomplete: "username", autocapitalize: "none",
    required: true, spellcheck: "false", maxlength: 128 });
  // A text box with masked glyphs (CSS): a password input has no textbox
  // role, and the handheld's PIN is typed on a numeric keypad.
  const pin = h("input", { type: "text", name: "pin", class: "masked", inputmode: "numeric",
    autocomplete: "off", required: true, minlength: 4, maxlength: 64, spellcheck: "false" });
  const msg = h("p", { class: "msg", "aria-live": "assertive" });
  const btn = h("button", { type: "submit", class: "primary" }, t("login"));
  mount(el, h("form", {
    class: "card narrow", onsubmit: async (e: Event) => {
      e.preventDefault();
      btn.disabled = true;
      mount(msg);
      try {
        await app.client.login(staff.value.trim(), pin.value);
        pin.value = "";
        history.replaceState(null, "", "#/");
        await render();
      } catch (err) {
        pin.value = "";
        mount(msg, h("span", { class: "err", role: "alert" },
          navigator.onLine ? t("error", { msg: errText(err) }) : t("loginNeedsNetwork")));
      } finally { btn.disabled = false; }
    } },
    h("h1", null, t("loginTitle")),
    h("p", { class: "hint" }, app.client.server() ?? ""),
    field(t("staffId"), staff),
    field(t("pin"), pin),
    btn, msg));
  staff.focus();
  return {};
}
