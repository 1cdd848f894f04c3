// scan.ts — the phone's camera (BarcodeDetector) and NFC (NDEFReader),
// where the browser has them.  Both are optional: typing always works.
import { h } from "./dom";
import { t } from "./i18n";

interface Detector { detect(src: CanvasImageSource): Promise<Array<{ rawValue: string }>> }
type DetectorCtor = new (o: { formats: string[] }) => Detector;

export function canScan(): boolean {
  return "BarcodeDetector" in window && !!navigator.mediaDevices?.getUserMedia;
}

/* Opens the camera in `box` until a QR code is read; calls got() with its
 * text and stops.  Returns a function that stops it early. */
export async function scanQr(box: HTMLElement, got: (text: string) => void): Promise<() => void> {
  const Ctor = (window as unknown as { BarcodeDetector: DetectorCtor }).BarcodeDetector;
  const det = new Ctor({ formats: ["qr_code"] });
  const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
  const video = h("video", { playsinline: true, muted: true, class: "scanner", "aria-label": t("scanQr") });
  video.srcObject = stream;
  box.appendChild(video);
  await video.play();
  let done = false;
  const stop = (): void => {
    done = true;
    for (const tr of stream.getTracks()) tr.stop();
    video.remove();
  };
  const tick = async (): Promise<void> => {
    if (done) return;
    try {
      const codes = await det.detect(video);
      if (codes.length) { stop(); got(codes[0].rawValue); return; }
    } catch { /* a frame not ready yet */ }
    setTimeout(() => void tick(), 200);
  };
  void tick();
  return stop;
}

interface NdefRecord { recordType: string; data?: DataView; encoding?: string }
interface NdefReading { serialNumber: string; message?: { records: NdefRecord[] } }

/* The tag's URL record, as written (a secure tag's SUN URL: the server
 * verifies it, schema/EVIDENCE.md); undefined when it has none. */
function urlRecord(e: NdefReading): string | undefined {
  for (const r of e.message?.records ?? [])
    if ((r.recordType === "url" || r.recordType === "absolute-url") && r.data)
      return new TextDecoder().decode(r.data);
  return undefined;
}
interface NdefReader extends EventTarget { scan(o?: { signal?: AbortSignal }): Promise<void> }

export function canNfc(): boolean { return "NDEFReader" in window; }

/* Reads one NFC tag's serial number ("04:a2:10:22" -> "NFC-04A21022", the
 * form the tags are registered with) and its URL record when it has one. */
export async function readNfc(got: (tag: string, url?: string) => void): Promise<() => void> {
  const Ctor = (window as unknown as { NDEFReader: new () => NdefReader }).NDEFReader;
  const reader = new Ctor();
  const ctl = new AbortController();
  reader.addEventListener("reading", (e) => {
    const rd = e as unknown as NdefReading;
    const sn = rd.serialNumber || "";
    got("NFC-" + sn.replace(/:/g, "").toUpperCase(), urlRecord(rd));
    ctl.abort();
  });
  await reader.scan({ signal: ctl.signal });
  return () => ctl.abort();
}
