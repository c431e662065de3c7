/**
 * SVG → PNG with resvg (Rust, prebuilt per platform in npm packages: nothing to download or compile at
 * install). Text uses the system's fonts (DejaVu Sans or any sans-serif); without any font installed the
 * lines and markers still render but the labels do not.
 */
export interface PngImage {
  png: Buffer;
  width: number;
  height: number;
}

/** Renders at `scale` × the SVG's own size: 2 keeps axis labels sharp on high-density screens and in tickets. */
export async function svgToPng(svg: string, scale = 2): Promise<PngImage> {
  const { Resvg } = await import('@resvg/resvg-js');
  const rendered = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: '#ffffff',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' }
  }).render();
  return { png: rendered.asPng(), width: rendered.width, height: rendered.height };
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Width and height from a PNG's IHDR chunk, or undefined when the bytes are not a PNG. */
export function pngSize(bytes: Buffer): { width: number; height: number } | undefined {
  if (bytes.length < 24 || !bytes.subarray(0, 8).equals(PNG_SIGNATURE) || bytes.toString('latin1', 12, 16) !== 'IHDR')
    return undefined;
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}
