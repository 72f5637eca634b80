import type sharpModule from 'sharp';

type Sharp = typeof sharpModule;
let loaded: Promise<Sharp> | undefined;
/** sharp (libvips) is loaded with the first thumbnail, not with the web UI: most runs never ask for one. */
function loadSharp(): Promise<Sharp> {
  return (loaded ??= import('sharp').then((module) => module.default));
}

/** Mailpit's thumbnail: 180x120 JPEG (quality 70) on white, so transparent images stay light. */
const WIDTH = 180;
const HEIGHT = 120;
const WHITE = { r: 255, g: 255, b: 255, alpha: 1 };

/** A white 180x120 JPEG: what Mailpit answers for a part that is not a readable image. */
async function blank(): Promise<Buffer> {
  const sharp = await loadSharp();
  return sharp({ create: { width: WIDTH, height: HEIGHT, channels: 3, background: WHITE } })
    .jpeg({ quality: 70 })
    .toBuffer();
}

/**
 * A large image is cropped to fill the frame; a small one is fitted inside it (as Mailpit does).
 * Decoding is bounded (pixel limit, one frame) so a hostile attachment cannot use up memory.
 */
export async function thumbnail(content: Buffer, contentType: string): Promise<Buffer> {
  if (!contentType.toLowerCase().startsWith('image/')) return blank();
  const sharp = await loadSharp();
  try {
    const image = sharp(content, { limitInputPixels: 50_000_000, pages: 1 });
    const { width, height } = await image.metadata();
    const small = width < WIDTH || height < HEIGHT;
    return await image
      .rotate()
      .resize(WIDTH, HEIGHT, {
        fit: small ? 'contain' : 'cover',
        background: WHITE,
        withoutEnlargement: false,
      })
      .flatten({ background: WHITE })
      .jpeg({ quality: 70 })
      .toBuffer();
  } catch {
    return blank();
  }
}
