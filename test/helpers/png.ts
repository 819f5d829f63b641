/**
 * Shrinks a Chromium screenshot for the docs: re-encodes an 8-bit RGB or opaque RGBA PNG with a
 * palette of its 256 most used colours, the rest mapped to the nearest of them. A page is flat
 * colours plus anti-aliased text, so the loss is invisible and the file about a third the size
 * (Chromium's own PNGs are truecolour). Dependency-free: node:zlib does the deflating.
 */
import { crc32, deflateSync, inflateSync } from "node:zlib";

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, "latin1");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/** Squared distance of two 0xRRGGBB colours. */
function distance(p: number, q: number): number {
  const dr = ((p >> 16) & 0xff) - ((q >> 16) & 0xff);
  const dg = ((p >> 8) & 0xff) - ((q >> 8) & 0xff);
  const db = (p & 0xff) - (q & 0xff);
  return dr * dr + dg * dg + db * db;
}
/** Colours closer than this (squared distance: about 4 steps per channel) look the same. */
const CLOSE = 48;

/** The pixels of PNG scanlines `raw` (filter byte, then filtered bytes, per row); `bpp` bytes per pixel. */
function unfilter(raw: Buffer, width: number, height: number, bpp: number): Buffer {
  const stride = width * bpp;
  const out = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const type = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    for (let i = 0; i < stride; i++) {
      const x = raw[src + i] ?? 0;
      const a = i >= bpp ? (out[row + i - bpp] ?? 0) : 0;
      const b = y > 0 ? (out[row - stride + i] ?? 0) : 0;
      const c = y > 0 && i >= bpp ? (out[row - stride + i - bpp] ?? 0) : 0;
      let predicted: number;
      switch (type) {
        case 0:
          predicted = 0;
          break;
        case 1:
          predicted = a;
          break;
        case 2:
          predicted = b;
          break;
        case 3:
          predicted = (a + b) >> 1;
          break;
        case 4: {
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          predicted = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default:
          throw new Error(`PNG: unknown filter type ${type} in row ${y}`);
      }
      out[row + i] = (x + predicted) & 0xff;
    }
  }
  return out;
}

/**
 * `png` (8-bit RGB or opaque RGBA, not interlaced) as an 8-bit palette PNG of the same size.
 * Throws naming the property at fault for any other PNG.
 */
export function toPalettePng(png: Buffer): Buffer {
  if (!png.subarray(0, 8).equals(SIGNATURE)) throw new Error("PNG: bad signature");
  let pos = 8;
  let width = 0;
  let height = 0;
  let bpp = 0;
  const idat: Buffer[] = [];
  while (pos < png.length) {
    const length = png.readUInt32BE(pos);
    const type = png.toString("latin1", pos + 4, pos + 8);
    const data = png.subarray(pos + 8, pos + 8 + length);
    pos += 12 + length;
    if (type === "IHDR") {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const [depth, colourType, , , interlace] = data.subarray(8);
      if (depth !== 8) throw new Error(`PNG: bit depth ${depth}, expected 8`);
      if (colourType !== 2 && colourType !== 6)
        throw new Error(`PNG: colour type ${colourType}, expected 2 or 6`);
      if (interlace !== 0) throw new Error("PNG: interlaced");
      bpp = colourType === 2 ? 3 : 4;
    } else if (type === "IDAT") {
      idat.push(data);
    }
  }
  if (bpp === 0) throw new Error("PNG: no IHDR");
  const pixels = unfilter(inflateSync(Buffer.concat(idat)), width, height, bpp);

  const counts = new Map<number, number>();
  for (let i = 0; i < pixels.length; i += bpp) {
    if (bpp === 4 && pixels[i + 3] !== 255) throw new Error("PNG: not opaque");
    const rgb = ((pixels[i] ?? 0) << 16) | ((pixels[i + 1] ?? 0) << 8) | (pixels[i + 2] ?? 0);
    counts.set(rgb, (counts.get(rgb) ?? 0) + 1);
  }
  // Most used first (ties by colour value: the same screenshot gives the same bytes), skipping
  // colours close to one already taken, so that the few pixels of a rare hue (orange digits
  // among greys) keep a colour of their own; the skipped fill what room is left.
  const byUse = [...counts.entries()].sort((x, y) => y[1] - x[1] || x[0] - y[0]).map(([rgb]) => rgb);
  const palette: number[] = [];
  const skipped: number[] = [];
  for (const rgb of byUse) {
    if (palette.length === 256) break;
    if (palette.some((p) => distance(p, rgb) < CLOSE)) skipped.push(rgb);
    else palette.push(rgb);
  }
  palette.push(...skipped.slice(0, 256 - palette.length));
  const index = new Map<number, number>(palette.map((rgb, i) => [rgb, i]));
  const nearest = (rgb: number): number => {
    let best = 0;
    let bestDistance = Infinity;
    palette.forEach((p, i) => {
      const d = distance(p, rgb);
      if (d < bestDistance) [best, bestDistance] = [i, d];
    });
    index.set(rgb, best);
    return best;
  };

  const rows = Buffer.alloc((width + 1) * height); // filter type 0 (none): best for palettes
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * bpp;
      const rgb = ((pixels[i] ?? 0) << 16) | ((pixels[i + 1] ?? 0) << 8) | (pixels[i + 2] ?? 0);
      rows[y * (width + 1) + 1 + x] = index.get(rgb) ?? nearest(rgb);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 3, 0, 0, 0], 8);
  const plte = Buffer.alloc(palette.length * 3);
  palette.forEach((rgb, i) => plte.set([(rgb >> 16) & 0xff, (rgb >> 8) & 0xff, rgb & 0xff], i * 3));
  return Buffer.concat([
    SIGNATURE,
    chunk("IHDR", ihdr),
    chunk("PLTE", plte),
    chunk("IDAT", deflateSync(rows, { level: 9 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}
