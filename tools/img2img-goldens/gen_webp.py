"""Writes the WebP input fixtures of InitImageWebpTest (src/test/resources/webp/) with Pillow/libwebp.

Each <name>.webp comes with <name>.expected.png: Pillow's own decode of that WebP (libwebp, the reference decoder),
as diffusers' load_image would see it (ImageOps.exif_transpose, then convert("RGB"), or "RGBA" where the fixture has
alpha so the test can check the transparent pixels too), stored losslessly as PNG. The Java decode is compared to
it, exactly, lossless and lossy alike (the service decodes lossy WebP with libwebp itself; lossy and lossy_alpha
also measure TwelveMonkeys' own VP8 decoder, which differs by far more than rounding). The lossy set spans
qualities 5..100, odd sizes (chroma planes of odd length), lossy and uncompressed alpha, noise (many coefficients)
and an EXIF orientation. animated.webp and lossy_bad_alpha.webp are bad inputs (two frames; an ALPH chunk whose
header names compression method 3, which libwebp 1.6.0 reports as VP8_STATUS_OUT_OF_MEMORY).

Run: /work/scratch/dm-venv/bin/python tools/img2img-goldens/gen_webp.py   (Pillow with WebP support)
"""
import io
import os
import random

from PIL import Image, ImageOps, features

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "src", "test", "resources", "webp")
assert features.check("webp"), "this Pillow has no WebP support"


def pattern(w, h, alpha=False):
    """Smooth gradients plus a few hard edges: something a lossy codec has to work at, deterministic."""
    img = Image.new("RGBA" if alpha else "RGB", (w, h))
    px = img.load()
    for y in range(h):
        for x in range(w):
            r = (x * 255) // (w - 1)
            g = (y * 255) // (h - 1)
            b = 200 if (x // 8 + y // 8) % 2 else 40
            if alpha:
                # a fully transparent square (its colour kept: exact=True), a half-transparent band, opaque elsewhere
                a = 0 if (w // 4 <= x < w // 2 and h // 4 <= y < h // 2) else 128 if y >= h - 4 else 255
                px[x, y] = (r, g, b, a)
            else:
                px[x, y] = (r, g, b)
    return img


def noise(w, h, seed):
    """Seeded random pixels: every block full of coefficients (the hardest case for a lossy decoder to match)."""
    rnd = random.Random(seed)
    return Image.frombytes("RGB", (w, h), bytes(rnd.getrandbits(8) for _ in range(w * h * 3)))


def save(name, img, expected=True, **kw):
    path = os.path.join(OUT, name + ".webp")
    img.save(path, "WEBP", **kw)
    with Image.open(path) as back:
        back.load()
        assert getattr(back, "n_frames", 1) == 1
        if not expected:
            print(name, os.path.getsize(path), "bytes")
            return
        up = ImageOps.exif_transpose(back)
        mode = "RGBA" if back.mode == "RGBA" else "RGB"
        up.convert(mode).save(os.path.join(OUT, name + ".expected.png"))
    print(name, os.path.getsize(path), "bytes")


def exif_orientation(o):
    ex = Image.Exif()
    ex[0x0112] = o
    return ex.tobytes()


def main():
    os.makedirs(OUT, exist_ok=True)
    save("lossless", pattern(24, 16), lossless=True)
    save("lossless_alpha", pattern(24, 16, alpha=True), lossless=True, exact=True)
    save("lossy", pattern(32, 24), quality=80)
    save("lossy_alpha", pattern(32, 24, alpha=True), quality=80, alpha_quality=100)
    # odd sides: the 4:2:0 chroma planes have a half-used last column/row that the upsampler has to handle
    save("lossy_q5_odd", pattern(33, 17), quality=5, method=0)
    save("lossy_q100_odd", pattern(17, 9), quality=100, method=6)
    # lossy alpha (alpha_quality < 100: quantized levels, filtered), odd size
    save("lossy_alpha_q50", pattern(21, 15, alpha=True), quality=50, alpha_quality=30)
    save("lossy_noise", noise(16, 16, 5), quality=90)
    # VP8X + VP8 + EXIF orientation 8 ("rotate 90 counter-clockwise to view"): 24x16 stored, shown 16x24
    save("lossy_orientation8", pattern(24, 16), quality=75, exif=exif_orientation(8))
    # lossy_alpha with its ALPH header byte set to compression method 3 (only 0 and 1 exist)
    b = bytearray(open(os.path.join(OUT, "lossy_alpha.webp"), "rb").read())
    at = b.index(b"ALPH") + 8
    b[at] = (b[at] & ~0x03) | 0x03
    open(os.path.join(OUT, "lossy_bad_alpha.webp"), "wb").write(b)
    try:
        Image.open(io.BytesIO(bytes(b))).load()
        raise AssertionError("Pillow decoded lossy_bad_alpha.webp")
    except (OSError, SyntaxError) as e:
        print("lossy_bad_alpha", len(b), "bytes; Pillow:", e)
    # the API tests' lossy start image: 64x64
    save("init64_lossy", pattern(64, 64), quality=80)
    # EXIF orientation 6 ("rotate 90 clockwise to view"): a 24x16 file shown as 16x24
    save("orientation6", pattern(24, 16), lossless=True, exif=exif_orientation(6))
    # an ICC profile chunk (VP8X + ICCP): PIL's convert("RGB") ignores it, the stored values are what we compare
    # (LittleCMS stamps the profile with the time it was made: icc.webp and its PNG change bytes on every run)
    srgb = __import__("PIL.ImageCms", fromlist=["x"]).ImageCmsProfile(
        __import__("PIL.ImageCms", fromlist=["x"]).createProfile("sRGB")).tobytes()
    save("icc", pattern(16, 16), lossless=True, icc_profile=srgb)
    # the API tests' lossless images: 64x64 (sides the pipeline accepts)
    save("init64", pattern(64, 64), expected=False, lossless=True)
    edit = pattern(64, 64, alpha=True)  # a fully transparent 16x16 square: what /v1/images/edits repaints
    save("edit64_alpha", edit, expected=False, lossless=True, exact=True)
    # 512x512, black with a white 8x8 top-left corner and a (1, 2, 3) 3x3 bottom-right one: almost all of it coded
    # in no bits, so the decoder meets the end of the data long before the last pixel (a valid file must not be
    # taken for one that reads on past its end)
    corner = Image.new("RGB", (512, 512))
    corner.paste((255, 255, 255), (0, 0, 8, 8))
    corner.paste((1, 2, 3), (509, 509, 512, 512))
    save("corner512", corner, expected=False, lossless=True)
    # two frames: refused (422), never decoded as its first frame
    frames = [pattern(16, 16), pattern(16, 16).transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    path = os.path.join(OUT, "animated.webp")
    frames[0].save(path, "WEBP", save_all=True, append_images=frames[1:], duration=100, lossless=True)
    with Image.open(path) as back:
        assert back.n_frames == 2
    print("animated", os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
