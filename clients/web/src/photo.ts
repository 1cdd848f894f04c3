// photo.ts — a photo from the phone's camera, made small on the phone
// before it is stored and sent: at most 1280 px on the long side, JPEG.
export async function compressPhoto(file: Blob, maxSide = 1280, quality = 0.72): Promise<Blob> {
  let bmp: ImageBitmap;
  try { bmp = await createImageBitmap(file); } catch { return file; }
  const scale = Math.min(1, maxSide / Math.max(bmp.width, bmp.height));
  const w = Math.max(1, Math.round(bmp.width * scale)), hgt = Math.max(1, Math.round(bmp.height * scale));
  const canvas = document.createElement("canvas");
  canvas.width = w; canvas.height = hgt;
  canvas.getContext("2d")!.drawImage(bmp, 0, 0, w, hgt);
  bmp.close();
  const out = await new Promise<Blob | null>((res) => canvas.toBlob(res, "image/jpeg", quality));
  return out && out.size < file.size ? out : file;
}
