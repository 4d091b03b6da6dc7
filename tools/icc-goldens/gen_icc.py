"""Writes the colour-profile fixtures of ColorProfilesTest (src/test/resources/icc/) with Pillow and its LittleCMS.

Each <name>.<png|jpg|webp> is a small image with an embedded ICC profile; <name>.expected.png is what the service
should decode it to: Pillow's decode (as diffusers' load_image sees it) converted to sRGB by LittleCMS,

    ImageCms.profileToProfile(im, ImageCms.ImageCmsProfile(io.BytesIO(icc)), ImageCms.createProfile("sRGB"),
                              renderingIntent=ImageCms.Intent.PERCEPTUAL, outputMode="RGB")

(perceptual: Pillow's default, and for these matrix/TRC profiles the same as relative colorimetric; RGBA fixtures are
converted as RGBA, LittleCMS leaving alpha as it is, and stored as RGBA). The sRGB fixtures' expected PNG is the
stored values (the service must keep them bit for bit); the generator prints how far Pillow's own conversion moves
them. The grey fixtures' expected PNG is LittleCMS's unoptimised transform (flags=NOOPTIMIZE): Pillow's default one
is off by up to 9.7 levels there (see golden()).

The profiles are built here (ICC.1 matrix/TRC and grey/TRC profiles, a few hundred bytes each), no profile file
being at hand on the machine that made them:
    display_p3   v4: Display P3 (DCI-P3 primaries, D65 white, the sRGB curve as a parametric curve, chad tag)
    adobe_like   v2: Adobe RGB (1998)'s primaries and white, gamma 563/256 (a one-entry curv)
    linear       v2: sRGB's primaries with identity curves (linear light: the darkest levels move the most)
    gray_linear  v2: grey with an identity curve (linear light, as the JDK's GRAY.pf)
    srgb_table   v2: sRGB encoded the way HP's classic sRGB IEC61966-2.1 profile is (1024-entry curves, colorants
                 rounded to 4 digits): "sRGB" the way most cameras and editors embed it, not byte-equal to LittleCMS'
    srgb_lcms    LittleCMS' own sRGB (ImageCms.createProfile("sRGB")), what Pillow embeds

Fixtures (patterns 32x24, each file a few KB):
    p3.png            RGB + display_p3 (iCCP)
    linear.png        RGB + linear
    adobe_alpha.png   RGBA + adobe_like, alpha 0 / 128 / 255 areas (expected stored as RGBA)
    gray.png          L + gray_linear (expected RGB)
    srgb_table.png    RGB + srgb_table (expected: the stored values)
    srgb_lcms.png     RGB + srgb_lcms  (expected: the stored values)
    adobe_split.jpg   4:4:4 JPEG + adobe_like split over three APP2 ICC_PROFILE segments (expected from Pillow's
                      libjpeg-turbo decode of it)
    gray.jpg          greyscale JPEG + gray_linear
    p3.webp           lossless WebP (VP8X + ICCP) + display_p3
    cmyk.jpg          a CMYK JPEG (no profile): refused by the service
    profiles/<name>.icc   the profiles themselves (malformed variants are made from them in the Java tests)

Run: /work/scratch/dm-venv/bin/python tools/icc-goldens/gen_icc.py   (Pillow with LittleCMS and WebP)
"""
import io
import os
import struct

import numpy as np
from PIL import Image, ImageCms, features

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "test", "resources", "icc")
W, H = 32, 24

D50 = np.array([0.9642, 1.0, 0.8249])
BRADFORD = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]])


# --- ICC building blocks (ICC.1:2010 / ICC.1:2001-04 for v2)

def s15f16(v):
    return struct.pack(">i", int(round(v * 65536)))


def xyz_type(xyz):
    return b"XYZ " + b"\0" * 4 + b"".join(s15f16(v) for v in xyz)


def curv_gamma(g):
    return b"curv" + b"\0" * 4 + struct.pack(">IH", 1, int(round(g * 256))) + b"\0\0"


def curv_identity():
    return b"curv" + b"\0" * 4 + struct.pack(">I", 0)


def curv_table(values):
    return b"curv" + b"\0" * 4 + struct.pack(">I", len(values)) + b"".join(struct.pack(">H", v) for v in values) \
        + (b"\0\0" if len(values) % 2 else b"")


def para_srgb():
    # function type 3: Y = (aX + b)^g for X >= d, Y = cX below
    g, a, b, c, d = 2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045
    return b"para" + b"\0" * 4 + struct.pack(">HH", 3, 0) + b"".join(s15f16(v) for v in (g, a, b, c, d))


def text_v2(s):
    return b"text" + b"\0" * 4 + s.encode("ascii") + b"\0"


def desc_v2(s):
    a = s.encode("ascii") + b"\0"
    # ASCII count + string, Unicode code and count (0), ScriptCode code (0), count (0) and 67 bytes
    return b"desc" + b"\0" * 4 + struct.pack(">I", len(a)) + a + struct.pack(">II", 0, 0) + struct.pack(">HB", 0, 0) \
        + b"\0" * 67


def mluc(s):
    u = s.encode("utf-16-be")
    return b"mluc" + b"\0" * 4 + struct.pack(">II", 1, 12) + b"enUS" + struct.pack(">II", len(u), 28) + u


def sf32(m):
    return b"sf32" + b"\0" * 4 + b"".join(s15f16(v) for v in np.asarray(m).ravel())


def profile(version, space, tags):
    """An ICC profile: header (display class, PCS XYZ, D50, perceptual intent) and the tags in order."""
    count = len(tags)
    offset = 128 + 4 + 12 * count
    table = b""
    data = b""
    for sig, body in tags:
        while (offset + len(data)) % 4:
            data += b"\0"
        table += sig.encode("ascii") + struct.pack(">II", offset + len(data), len(body))
        data += body
    while len(data) % 4:
        data += b"\0"
    size = offset + len(data)
    header = struct.pack(">I", size) + b"\0" * 4 + struct.pack(">I", version) + b"mntr" + space.encode("ascii") \
        + b"XYZ " + struct.pack(">6H", 2024, 1, 1, 0, 0, 0) + b"acsp" + b"\0" * 4 + struct.pack(">I", 0) \
        + b"\0" * 8 + b"\0" * 8 + struct.pack(">I", 0) + b"".join(s15f16(v) for v in D50) + b"\0" * 4 \
        + b"\0" * 16 + b"\0" * 28
    assert len(header) == 128
    return header + struct.pack(">I", count) + table + data


def xy_to_xyz(x, y):
    return np.array([x / y, 1.0, (1 - x - y) / y])


def colorants_d50(primaries, white):
    """The D50-adapted (Bradford) colorant columns of an RGB space: what rXYZ/gXYZ/bXYZ hold."""
    w = xy_to_xyz(*white)
    p = np.stack([xy_to_xyz(*xy) for xy in primaries], axis=1)
    m = p * np.linalg.solve(p, w)  # columns scaled so that R + G + B = white
    adapt = chad(white)
    return adapt @ m, adapt


def chad(white):
    w = xy_to_xyz(*white)
    cone_src = BRADFORD @ w
    cone_dst = BRADFORD @ D50
    return np.linalg.inv(BRADFORD) @ np.diag(cone_dst / cone_src) @ BRADFORD


def rgb_profile(name, version, primaries, white, trc, chad_tag=False, round4=False):
    m, adapt = colorants_d50(primaries, white)
    if round4:
        m = np.round(m, 4)
    text = mluc if version >= 0x04000000 else desc_v2
    cprt = mluc("No copyright, test fixture") if version >= 0x04000000 else text_v2("No copyright, test fixture")
    tags = [("desc", text(name)), ("cprt", cprt), ("wtpt", xyz_type(D50))]
    if chad_tag:
        tags.append(("chad", sf32(adapt)))
    tags += [("rXYZ", xyz_type(m[:, 0])), ("gXYZ", xyz_type(m[:, 1])), ("bXYZ", xyz_type(m[:, 2])),
             ("rTRC", trc), ("gTRC", trc), ("bTRC", trc)]
    return profile(version, "RGB ", tags)


def gray_profile(name, trc):
    tags = [("desc", desc_v2(name)), ("cprt", text_v2("No copyright, test fixture")), ("wtpt", xyz_type(D50)),
            ("kTRC", trc)]
    return profile(0x02100000, "GRAY", tags)


D65 = (0.3127, 0.3290)
SRGB_PRIMARIES = [(0.64, 0.33), (0.30, 0.60), (0.15, 0.06)]


def srgb_decode(v):
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


PROFILES = {
    "display_p3": rgb_profile("Display P3 (test)", 0x04300000, [(0.680, 0.320), (0.265, 0.690), (0.150, 0.060)],
                              D65, para_srgb(), chad_tag=True),
    "adobe_like": rgb_profile("Adobe RGB (1998)-like (test)", 0x02100000,
                              [(0.64, 0.33), (0.21, 0.71), (0.15, 0.06)], D65, curv_gamma(563 / 256)),
    "linear": rgb_profile("linear sRGB (test)", 0x02100000, SRGB_PRIMARIES, D65, curv_identity()),
    "gray_linear": gray_profile("linear grey (test)", curv_identity()),
    "srgb_table": rgb_profile("sRGB IEC61966-2.1-like (test)", 0x02100000, SRGB_PRIMARIES, D65,
                              curv_table([int(round(v * 65535)) for v in srgb_decode(np.arange(1024) / 1023)]),
                              round4=True),
    "srgb_lcms": None,  # filled in main (LittleCMS stamps it with the time: written once, see README)
}


# --- images

def pattern(mode):
    """Gradients over the whole range, saturated and dark patches: every part of a tone curve gets exercised."""
    y, x = np.mgrid[0:H, 0:W]
    r = (x * 255) // (W - 1)
    g = (y * 255) // (H - 1)
    b = np.where((x // 4 + y // 4) % 2 == 1, 230, 12)
    b = np.where(y >= H - 4, (x * 8) % 256, b)  # a dark ramp row band: where linear-light profiles move the most
    rgb = np.stack([r, g, b], axis=-1).astype(np.uint8)
    rgb[0:4, 0:4] = (255, 0, 0)
    rgb[0:4, 4:8] = (0, 255, 0)
    rgb[0:4, 8:12] = (0, 0, 255)
    if mode == "L":
        return Image.fromarray(((x * 5 + y * 3) % 256).astype(np.uint8), "L")
    if mode == "RGBA":
        a = np.full((H, W), 255, np.uint8)
        a[H // 4:H // 2, W // 4:W // 2] = 0
        a[H // 2:H // 2 + 4] = 128
        return Image.fromarray(np.dstack([rgb, a]), "RGBA")
    return Image.fromarray(rgb, "RGB")


def to_srgb(im, icc, mode, flags=ImageCms.Flags.NONE):
    return ImageCms.profileToProfile(im, ImageCms.ImageCmsProfile(io.BytesIO(icc)), ImageCms.createProfile("sRGB"),
                                     renderingIntent=ImageCms.Intent.PERCEPTUAL, outputMode=mode, flags=flags)


def srgb_encode(v):
    return np.where(v <= 0.0031308, 12.92 * v, 1.055 * v ** (1 / 2.4) - 0.055)


def split_app2(jpeg, parts):
    """The JPEG with its ICC_PROFILE APP2 segment(s) replaced by `parts` segments holding the same profile."""
    i = 2
    segments = []
    icc = b""
    while True:
        assert jpeg[i] == 0xFF
        marker = jpeg[i + 1]
        length = struct.unpack(">H", jpeg[i + 2:i + 4])[0]
        payload = jpeg[i + 4:i + 2 + length]
        if marker == 0xE2 and payload.startswith(b"ICC_PROFILE\0"):
            icc += payload[14:]
        else:
            segments.append(jpeg[i:i + 2 + length])
        i += 2 + length
        if marker == 0xDA:
            break
    rest = jpeg[i:]
    step = -(-len(icc) // parts)
    app2 = b""
    for k in range(parts):
        chunk = b"ICC_PROFILE\0" + bytes([k + 1, parts]) + icc[k * step:(k + 1) * step]
        app2 += b"\xff\xe2" + struct.pack(">H", len(chunk) + 2) + chunk
    # after SOI (and APP0 when there is one), as encoders place it
    head = b"\xff\xd8"
    out = head + segments[0] + app2 + b"".join(segments[1:]) + rest
    return out


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def golden(name, icc, expected_mode="RGB", keep_stored=False, linear_grey=False):
    """<name>.expected.png from Pillow's decode of the written file; prints how far the conversion moves the values.

    linear_grey: the image is grey with the gray_linear profile. LittleCMS's optimised 8-bit grey-to-RGB transform
    (Pillow's default) samples the curve on a coarse grid and interpolates, which is off by up to 9.7 levels (at grey
    2; 9.2 on these fixtures) in the darkest greys, where the linear-to-sRGB curve is steepest; the expected PNG is
    then LittleCMS's unoptimised transform (flags=NOOPTIMIZE, within rounding of the exact sRGB curve), and both
    distances are printed.
    """
    path = os.path.join(OUT, name)
    with Image.open(path) as im:
        im.load()
        assert im.info.get("icc_profile") == icc, name + ": Pillow does not read back the embedded profile"
        stored = im.convert(expected_mode) if im.mode != "L" else im
        converted = to_srgb(stored, icc, expected_mode)
        if linear_grey:
            exact = 255 * srgb_encode(np.asarray(stored, np.float64) / 255)
            default = np.asarray(converted, np.float64)[..., 0]
            converted = to_srgb(stored, icc, expected_mode, flags=ImageCms.Flags.NOOPTIMIZE)
            precise = np.asarray(converted, np.float64)
            print(f"{name}: exact sRGB curve vs Pillow's default transform: max {np.abs(default - exact).max():.2f};"
                  f" vs NOOPTIMIZE (the expected PNG): max {np.abs(precise - exact[..., None]).max():.2f};"
                  f" default vs NOOPTIMIZE: max {int(np.abs(default - precise[..., 0]).max())}")
        moved = int(np.abs(np.asarray(converted, np.int16)
                           - np.asarray(stored.convert(expected_mode), np.int16)).max())
        out = stored.convert(expected_mode) if keep_stored else converted
        # a fresh image: no profile in the expected PNG (PIL would otherwise write the one in .info)
        Image.fromarray(np.asarray(out), expected_mode).save(os.path.join(OUT, name + ".expected.png"))
    print(f"{name}: {os.path.getsize(path)} bytes; Pillow's conversion moves the stored values by up to {moved}")


def main():
    assert features.check("littlecms2") and features.check("webp")
    os.makedirs(os.path.join(OUT, "profiles"), exist_ok=True)
    lcms_path = os.path.join(OUT, "profiles", "srgb_lcms.icc")
    if os.path.exists(lcms_path):
        with open(lcms_path, "rb") as f:
            PROFILES["srgb_lcms"] = f.read()
    else:
        PROFILES["srgb_lcms"] = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for k, v in PROFILES.items():
        ImageCms.ImageCmsProfile(io.BytesIO(v))  # LittleCMS opens it
        write(os.path.join("profiles", k + ".icc"), v)

    pattern("RGB").save(os.path.join(OUT, "p3.png"), icc_profile=PROFILES["display_p3"])
    golden("p3.png", PROFILES["display_p3"])
    pattern("RGB").save(os.path.join(OUT, "linear.png"), icc_profile=PROFILES["linear"])
    golden("linear.png", PROFILES["linear"])
    pattern("RGBA").save(os.path.join(OUT, "adobe_alpha.png"), icc_profile=PROFILES["adobe_like"])
    golden("adobe_alpha.png", PROFILES["adobe_like"], expected_mode="RGBA")
    pattern("L").save(os.path.join(OUT, "gray.png"), icc_profile=PROFILES["gray_linear"])
    golden("gray.png", PROFILES["gray_linear"], linear_grey=True)
    for k in ("srgb_table", "srgb_lcms"):
        pattern("RGB").save(os.path.join(OUT, k + ".png"), icc_profile=PROFILES[k])
        golden(k + ".png", PROFILES[k], keep_stored=True)

    buf = io.BytesIO()
    pattern("RGB").save(buf, "JPEG", quality=95, subsampling=0, icc_profile=PROFILES["adobe_like"])
    write("adobe_split.jpg", split_app2(buf.getvalue(), 3))
    golden("adobe_split.jpg", PROFILES["adobe_like"])
    pattern("L").save(os.path.join(OUT, "gray.jpg"), quality=95, icc_profile=PROFILES["gray_linear"])
    golden("gray.jpg", PROFILES["gray_linear"], linear_grey=True)

    pattern("RGB").save(os.path.join(OUT, "p3.webp"), lossless=True, icc_profile=PROFILES["display_p3"])
    golden("p3.webp", PROFILES["display_p3"])

    pattern("RGB").convert("CMYK").save(os.path.join(OUT, "cmyk.jpg"), quality=90)
    print("cmyk.jpg:", os.path.getsize(os.path.join(OUT, "cmyk.jpg")), "bytes")


if __name__ == "__main__":
    main()
